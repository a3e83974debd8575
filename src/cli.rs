//! Command-line interface: the raw clap parse, then a validated `Mode` built before any I/O,
//! and the dispatch that owns files, terminal output and exit codes.
//!
//! Exit codes: 0 the gate passed, 1 the gate failed (score under `--fail-under`, a
//! regression against `--baseline`, or a failed check of the `--fail-on` severity), 2 the tool could not do its job (bad input, unreachable
//! target, unwritable output).

use crate::contract::ContractSource;
use crate::error::AuditError;
use crate::probe::ProbeSettings;
use crate::probe::load::{LoadPlan, LoadRole, LoadStep};
use crate::profile::Severity;
use crate::report::{self, Format};
use crate::run::{self, RunConfig};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "voice-audit",
    version,
    about = "Audits a real-time voice backend against its OpenAPI and AsyncAPI contracts and writes a scored, evidence-backed report."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit a running deployment.
    Run(Box<RunArgs>),
    /// Start the reference server in-process on a free port, audit it, and write the report.
    Demo(DemoArgs),
    /// Draft a binding (roles → operations) from an OpenAPI document; prints YAML to stdout.
    Bind(BindArgs),
    /// Print a shell completion script, e.g. `voice-audit completions bash > voice-audit.bash`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Score a finished run again from its saved observations (no target): same profile, same
    /// results; another profile, that profile's verdict on the same evidence.
    Rescore(RescoreArgs),
}

#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// Output folder of an earlier `run` or `demo` (holds observations.json).
    pub dir: PathBuf,
    /// Profiles, comma separated: `integration`, `readiness`, `status` or YAML files.
    #[arg(long, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// Report formats, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "md,json,junit")]
    pub format: Vec<Format>,
    /// Folder for the new reports; DIR itself by default.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct BindArgs {
    /// OpenAPI document: `bundled`, a file, a URL, or `target` (with --target).
    #[arg(long)]
    pub contract: String,
    /// Base URL of the deployment, for `--contract target`.
    #[arg(long)]
    pub target: Option<String>,
}

#[derive(Debug, Args)]
pub struct Output {
    /// Folder for the reports (report.md, results.json, junit.xml, report.html,
    /// voice-audit.sarif) and evidence/.
    #[arg(long, default_value = "voice-audit-report")]
    pub out: PathBuf,
    /// Report formats, comma separated: md, json, junit, html, sarif.
    #[arg(long, value_delimiter = ',', default_value = "md,json,junit")]
    pub format: Vec<Format>,
    /// Do not write the evidence folder (HAR and WebSocket logs).
    #[arg(long)]
    pub no_evidence: bool,
    /// Fail (exit 1) when the score is under this value (0–100).
    #[arg(long, value_parser = parse_score)]
    pub fail_under: Option<f64>,
    /// Fail (exit 1) when any check of this severity or worse failed or partly failed:
    /// `critical` or `high` (which includes critical).
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Fail (exit 1) when the score or any check got worse than in this earlier results.json.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// No progress lines and no summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct Probing {
    /// Provider switches in the mid-stream switch scenario.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub switches: u32,
    /// Timeout of each request and wait, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
    /// Requests the contract walk keeps in flight at most (per-resource order is kept).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Overall budget of the contract walk, in seconds; operations not reached are listed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub walk_budget: u64,
    /// Audit profiles, comma separated: bundled `integration` (default), `readiness` (seed
    /// 002), `status` (seed 004), or YAML files. Each writes its own reports; the first gates.
    #[arg(long, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// A HAR 1.2 recorded in the frontend's browser devtools: every API call it made is checked
    /// against the contract (path, method, body schema).
    #[arg(long, value_name = "FILE")]
    pub frontend_har: Option<PathBuf>,
    /// An origin the deployment allows to call it from a browser (CORS allow-list), e.g.
    /// https://app.example.com: its preflight must pass. Arbitrary origins are always tried.
    #[arg(long, value_parser = parse_origin)]
    pub cors_origin: Option<String>,
}

/// Hooks that disrupt the target on purpose (README "Recovery and cache outages").
#[derive(Debug, Args)]
pub struct Recovery {
    /// Command (run with `sh -c`) that restarts the target, e.g. `systemctl restart
    /// voice-backend` or `docker restart voice-backend`; assesses recovery after a restart.
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// Command that takes the target's cache tier down (e.g. `docker stop voice-redis`).
    #[arg(long, value_name = "CMD", requires = "cache_up_cmd")]
    pub cache_down_cmd: Option<String>,
    /// Command that brings the cache tier back (e.g. `docker start voice-redis`).
    #[arg(long, value_name = "CMD", requires = "cache_down_cmd")]
    pub cache_up_cmd: Option<String>,
    /// Seconds the target may take to answer health and readiness after a hook (a hook itself
    /// may run twice as long before it is killed).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ready_timeout: u64,
}

impl Recovery {
    pub fn hooks(&self) -> crate::probe::recovery::Hooks {
        use crate::probe::hook::ShellHook;
        crate::probe::recovery::Hooks {
            restart: self.restart_cmd.as_deref().map(ShellHook::shared),
            cache_down: self.cache_down_cmd.as_deref().map(ShellHook::shared),
            cache_up: self.cache_up_cmd.as_deref().map(ShellHook::shared),
            ready_timeout: Duration::from_secs(self.ready_timeout),
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the deployment, e.g. http://127.0.0.1:8000. Repeat it for other instances
    /// of the same deployment: revocation and events caused through the first must reach them.
    #[arg(long, env = "VOICE_AUDIT_TARGET", required = true)]
    pub target: Vec<String>,
    /// OpenAPI document: `bundled`, a file, a URL, or `target` for the target's /openapi.json.
    #[arg(long, default_value = "bundled")]
    pub contract: String,
    /// AsyncAPI document of the session stream: `bundled`, a file or a URL.
    #[arg(long, default_value = "bundled")]
    pub ws_contract: String,
    /// Email of an existing user to audit as (with --password).
    #[arg(long, env = "VOICE_AUDIT_EMAIL", requires = "password")]
    pub email: Option<String>,
    /// Password of that user. Prefer the environment variable: flags show up in process lists.
    #[arg(
        long,
        env = "VOICE_AUDIT_PASSWORD",
        hide_env_values = true,
        requires = "email"
    )]
    pub password: Option<String>,
    /// Binding of the audit's roles (sign-in, sessions, switching, the stream) to this
    /// deployment's operations; the bundled reference binding by default. See README "Bindings".
    #[arg(long)]
    pub binding: Option<PathBuf>,
    /// Never register throwaway users (the probes that need them are reported as not assessed).
    #[arg(long)]
    pub no_register: bool,
    /// An access token to audit with, instead of signing in (prefer the environment variable).
    #[arg(long, env = "VOICE_AUDIT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Call no operation that mutates (POST/PUT/PATCH/DELETE, or a role that changes state) and
    /// register no user: needs --token or --email/--password; skipped checks say so.
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub probing: Probing,
    #[command(flatten)]
    pub recovery: Recovery,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Run a load phase after the other probes and score whether the target keeps answering
    /// (`perf.load`).
    #[arg(long)]
    pub load: bool,
    /// Load steps, comma separated: `cN` N clients back to back, `rN` N requests/s on a fixed
    /// schedule (latency timed from the intended send time).
    #[arg(long, value_delimiter = ',', default_value = "r50,r200,c8,c64", value_parser = LoadStep::parse)]
    pub load_steps: Vec<LoadStep>,
    /// Roles the load phase drives, comma separated: health, read, switch, stream.
    #[arg(long, value_delimiter = ',', default_value = "health,read", value_parser = LoadRole::parse)]
    pub load_roles: Vec<LoadRole>,
    /// Seconds each load step lasts.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub load_step_secs: u64,
}

impl LoadArgs {
    /// The plan of `--load`; `None` without it.
    pub fn plan(&self, timeout: Duration) -> Option<LoadPlan> {
        self.load.then(|| LoadPlan {
            roles: self.load_roles.clone(),
            steps: self.load_steps.clone(),
            step_duration: Duration::from_secs(self.load_step_secs),
            timeout,
        })
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Break the demo server on purpose (repeatable), to see a failing audit; see
    /// `voice-reference-server --help` for the names.
    #[arg(long = "inject-fault")]
    pub faults: Vec<String>,
    /// Run the demo server on this database instead of a temporary SQLite file
    /// (`postgres://127.0.0.1/voice_demo`: the production shape).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Give the demo server a Redis cache tier and event bus (`redis://127.0.0.1:6379`); its keys
    /// go under a prefix of this run, and a signing key is generated for it.
    #[arg(long, value_name = "URL")]
    pub cache_url: Option<String>,
    #[command(flatten)]
    pub probing: Probing,
    #[command(flatten)]
    pub output: Output,
}

fn parse_score(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not within 0–100"))
    }
}

/// `scheme://host[:port]`, without a trailing slash.
fn parse_origin(s: &str) -> Result<String, String> {
    let origin = s.trim().trim_end_matches('/');
    match url::Url::parse(origin) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.path() == "/"
                && u.query().is_none() =>
        {
            Ok(origin.to_string())
        }
        _ => Err(format!("{s:?} is not an origin (scheme://host[:port])")),
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match Severity::parse(s) {
        Some(v @ (Severity::Critical | Severity::High)) => Ok(v),
        _ => Err(format!("{s:?} is not `critical` or `high`")),
    }
}

impl Probing {
    pub fn settings(&self, allow_register: bool) -> ProbeSettings {
        ProbeSettings {
            switches: self.switches as usize,
            allow_register,
            timeout: Duration::from_secs(self.timeout),
            concurrency: self.concurrency as usize,
            walk_budget: Duration::from_secs(self.walk_budget),
            ..ProbeSettings::default()
        }
    }
}

impl RunArgs {
    pub fn config(&self) -> RunConfig {
        RunConfig {
            target: self.target.first().cloned().unwrap_or_default(),
            instances: self.target.iter().skip(1).cloned().collect(),
            contract: ContractSource::parse(&self.contract),
            ws_contract: ContractSource::parse(&self.ws_contract),
            profiles: self.probing.profile.clone(),
            frontend_har: self.probing.frontend_har.clone(),
            binding: self.binding.clone(),
            credentials: self.email.clone().zip(self.password.clone()),
            token: self.token.clone(),
            load: self.load.plan(Duration::from_secs(self.probing.timeout)),
            cors_origin: self.probing.cors_origin.clone(),
            probe: ProbeSettings {
                read_only: self.read_only,
                ..self.probing.settings(!self.no_register && !self.read_only)
            },
            hooks: self.recovery.hooks(),
        }
    }
}

/// Runs the parsed command and maps the outcome to the documented exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => {
            let config = args.config();
            audit_and_report(&config, &args.output).await
        }
        Command::Demo(args) => crate::demo::run(&args).await,
        Command::Bind(args) => bind(&args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "voice-audit",
                &mut std::io::stdout(),
            );
            Ok(true)
        }
        Command::Rescore(args) => rescore(&args),
    };
    match result {
        Ok(true) => ExitCode::from(0),
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("voice-audit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Re-scores a saved run and prints what it wrote; `Ok(true)` when written.
fn rescore(args: &RescoreArgs) -> Result<bool, AuditError> {
    let (audit, written) =
        crate::rescore::rescore(&args.dir, &args.profile, &args.format, args.out.as_deref())?;
    if !args.quiet {
        for (_, r) in audit.reports() {
            println!("{}", report::summary_table(r));
        }
        for path in &written {
            println!("wrote {}", path.display());
        }
    }
    Ok(true)
}

/// Loads the contract and prints the drafted binding; `Ok(true)` when printed.
async fn bind(args: &BindArgs) -> Result<bool, AuditError> {
    use crate::contract::{ApiContract, BUNDLED_OPENAPI, load_text};
    let source = ContractSource::parse(&args.contract);
    let source = match (&source, &args.target) {
        (ContractSource::Target, Some(t)) => {
            source.on_target(t.trim_end_matches('/'), "/openapi.json")
        }
        _ => source,
    };
    let client =
        crate::probe::client::build_client(Duration::from_secs(30)).map_err(AuditError::Client)?;
    let text = load_text(&source, BUNDLED_OPENAPI, &client).await?;
    let contract = ApiContract::parse(&text, &source.name())?;
    print!("{}", crate::binding::draft::draft(&contract));
    Ok(true)
}

/// Audits, writes, prints; `Ok(passed)` for the gate.
pub async fn audit_and_report(config: &RunConfig, output: &Output) -> Result<bool, AuditError> {
    let baseline = output
        .baseline
        .as_deref()
        .map(run::load_baseline)
        .transpose()?;
    let quiet = output.quiet;
    let progress = crate::progress::Progress::new(quiet);
    let audit = run::audit(config, &|step: &str| progress.step(step)).await;
    progress.finish();
    let mut audit = audit?;
    let formats = if output.format.is_empty() {
        Format::ALL.to_vec()
    } else {
        output.format.clone()
    };
    let written = run::write(&mut audit, &formats, &output.out, !output.no_evidence)?;
    if !quiet {
        let colour = report::colour_enabled(std::io::IsTerminal::is_terminal(&std::io::stdout()));
        for (_, r) in audit.reports() {
            let summary = report::summary_table(r);
            println!(
                "{}",
                report::paint_verdict(&summary, &r.score.readiness.band, colour)
            );
        }
        for path in &written {
            println!("wrote {}", path.display());
        }
    }
    let gates = [
        run::gate(&audit.report, output.fail_under, baseline.as_ref()),
        crate::cap::gate_severity(&audit.report, output.fail_on),
    ];
    match gates
        .into_iter()
        .filter_map(Result::err)
        .reduce(|mut a, b| {
            a.extend(b);
            a
        }) {
        None => Ok(true),
        Some(reasons) => {
            for r in reasons {
                eprintln!("voice-audit: gate failed: {r}");
            }
            Ok(false)
        }
    }
}
