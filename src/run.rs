//! One audit from start to finish: load the contracts, sign in, run the probes, turn the
//! observations into findings, score them, and assemble the report. Writing files and deciding
//! the exit code are separate steps, so tests can audit in-process and inspect the result.

use crate::binding::Binding;
use crate::check::{self, Finding};
use crate::contract::{
    ApiContract, BUNDLED_ASYNCAPI, BUNDLED_OPENAPI, ContractSource, WsContract, load_text,
};
use crate::error::AuditError;
use crate::evidence::EvidenceLog;
use crate::har::FrontendHar;
use crate::model::{self, AuditReport, ContractInfo, Metrics, TargetInfo, ToolInfo};
use crate::observed::Observed;
use crate::probe::{self, Ctx, Observations, ProbeSettings, client};
use crate::profile::Profile;
use crate::report::Format;
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub target: String,
    pub contract: ContractSource,
    pub ws_contract: ContractSource,
    /// Profiles to score the run against (bundled names or YAML files), each rendered to its
    /// own files; the integration profile when empty. The first one decides the CI gate.
    pub profiles: Vec<String>,
    /// A HAR the frontend recorded, checked against the contract (`contract.service_layer`).
    pub frontend_har: Option<PathBuf>,
    /// Binding of the scenarios' roles to the target's operations; the bundled reference
    /// binding when `None`.
    pub binding: Option<PathBuf>,
    /// Sign in as this user; otherwise a throwaway user is registered (when allowed).
    pub credentials: Option<(String, String)>,
    /// An access token to audit with (`--token`), instead of signing in.
    pub token: Option<String>,
    /// Other instances of the same deployment (`--target` repeated): revocation and events
    /// caused through `target` must reach them.
    pub instances: Vec<String>,
    /// The load phase (`--load`), after every other probe; `None` for none.
    pub load: Option<probe::load::LoadPlan>,
    /// An origin the deployment allow-lists for CORS (`--cors-origin`): its preflight must pass.
    pub cors_origin: Option<String>,
    pub probe: ProbeSettings,
    /// What restarts the target and takes its cache down and up (`--restart-cmd`, …).
    pub hooks: probe::recovery::Hooks,
}

impl RunConfig {
    pub fn new(target: &str) -> RunConfig {
        RunConfig {
            target: target.to_string(),
            contract: ContractSource::Bundled,
            ws_contract: ContractSource::Bundled,
            profiles: Vec::new(),
            frontend_har: None,
            binding: None,
            credentials: None,
            token: None,
            instances: Vec::new(),
            load: None,
            cors_origin: None,
            probe: ProbeSettings::default(),
            hooks: probe::recovery::Hooks::default(),
        }
    }
}

/// The finished audit with the evidence it rests on.
pub struct Audit {
    /// The report under the first profile, which the CI gate and the summary table read.
    pub report: AuditReport,
    pub profile: Profile,
    /// The reports under the other profiles of `--profile`, in order.
    pub others: Vec<(Profile, AuditReport)>,
    /// What the run observed, from which every report above was assembled.
    pub observed: Observed,
    pub evidence: EvidenceLog,
}

impl Audit {
    /// Every report of the run with its profile, the first profile first.
    pub fn reports(&self) -> impl Iterator<Item = (&Profile, &AuditReport)> {
        std::iter::once((&self.profile, &self.report))
            .chain(self.others.iter().map(|(p, r)| (p, r)))
    }

    /// Assembles the report of every profile from one set of observations.
    pub fn from_observed(
        observed: Observed,
        profiles: Vec<Profile>,
        evidence: EvidenceLog,
    ) -> Result<Audit, crate::profile::ProfileError> {
        let mut reports = profiles.into_iter().map(|p| {
            let r = observed.assemble(&p);
            (p, r)
        });
        let (profile, report) = reports
            .next()
            .ok_or(crate::profile::ProfileError::NoProfile)?;
        let others = reports.collect();
        Ok(Audit {
            report,
            profile,
            others,
            observed,
            evidence,
        })
    }
}

/// Progress lines for long runs; the CLI prints them to stderr, tests ignore them.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

pub async fn audit(config: &RunConfig, progress: Progress<'_>) -> Result<Audit, AuditError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let (base, ws_base) = parse_target(&config.target)?;
    let others = config
        .instances
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<Vec<_>, _>>()?;
    let profiles = Profile::resolve_all(&config.profiles)?;
    // A broken HAR is the tool's input failing: refuse it before touching the target.
    let frontend: Option<FrontendHar> = config
        .frontend_har
        .as_deref()
        .map(crate::har::load)
        .transpose()?;
    let fetcher = client::build_client(config.probe.timeout).map_err(AuditError::Client)?;
    progress("loading contracts");
    let api_source = config.contract.on_target(&base, "/openapi.json");
    let api_text = load_text(&api_source, BUNDLED_OPENAPI, &fetcher).await?;
    let api = Arc::new(ApiContract::parse(&api_text, &api_source.name())?);
    let ws_text = load_text(&config.ws_contract, BUNDLED_ASYNCAPI, &fetcher).await?;
    let ws_contract = Arc::new(WsContract::parse(&ws_text, &config.ws_contract.name())?);

    let binding = match &config.binding {
        Some(path) => Binding::load(path, &api)?,
        None => Binding::reference(&api)?,
    };

    let log = EvidenceLog::default();
    let http = client::Http::new(&base, Arc::clone(&api), log.clone(), config.probe.timeout)
        .map_err(AuditError::Client)?
        .with_binding(Arc::new(binding));
    reachable(&http, &base).await?;
    progress("signing in");
    let read_only = config.probe.read_only;
    let user = match (&config.token, &config.credentials) {
        (Some(token), _) => probe::auth::with_token(&http, token),
        (None, Some((email, password))) => probe::auth::login(&http, email, password, "setup")
            .await
            .map_err(AuditError::SignIn)?,
        (None, None) if config.probe.allow_register && !read_only => {
            probe::auth::register(&http, "setup")
                .await
                .map_err(AuditError::SignIn)?
        }
        (None, None) => return Err(AuditError::NoCredentials),
    };
    // Signed in: from here on a read-only run's client refuses every mutating method.
    let http = if read_only { http.read_only() } else { http };
    let ctx = Ctx {
        http,
        ws_contract: Arc::clone(&ws_contract),
        ws_base,
        settings: config.probe.clone(),
        user,
    };

    let mut obs = Observations::default();
    progress(&format!(
        "walking {} contract operations",
        api.operations.len()
    ));
    obs.walk = probe::walk::probe(&ctx, progress).await;
    if read_only {
        readonly_probes(&ctx, &mut obs, config.cors_origin.as_deref(), progress).await;
    } else {
        all_probes(&ctx, &mut obs, config.cors_origin.as_deref(), progress).await;
    }
    if !others.is_empty() {
        progress("revocation and events across instances");
        obs.instances = Some(probe::instances::probe(&ctx, &others).await);
    }
    if let Some(plan) = &config.load {
        progress("load phase");
        obs.load = Some(probe::load::probe(&ctx, plan).await);
    }
    // Last: both disrupt the target, the restart most; a read-only run does neither.
    if read_only {
        let no = |why: &str| Some(Err(format!("{READ_ONLY} ({why})")));
        if config.hooks.cache_down.is_some() {
            obs.outage = no("the cache outage scenario switches a provider");
        }
        if config.hooks.restart.is_some() {
            obs.restart = no("the restart scenario creates sessions and restarts the target");
        }
    } else {
        if config.hooks.cache_down.is_some() {
            progress("taking the cache down and up");
        }
        obs.outage = probe::outage::probe(&ctx, &config.hooks).await;
        if config.hooks.restart.is_some() {
            progress("restarting the target");
        }
        obs.restart = probe::restart::probe(&ctx, &config.hooks).await;
    }

    let mut findings = findings(&api, &ws_contract, &obs, &log);
    findings.extend(check::security::findings(obs.security.as_ref()));
    findings.push(check::unsecured::finding(&api, ctx.http.binding()));
    let mut operations = check::rows::operations(&api, &log.exchanges());
    if let Some(har) = &frontend {
        let prefix = url::Url::parse(&base)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let layer = check::service_layer::check(&api, har, &prefix);
        layer.annotate(&mut operations);
        findings.push(layer.finding);
    }
    let finished_at = Utc::now();
    let observed = Observed {
        schema_version: crate::observed::OBSERVATIONS_VERSION.to_string(),
        tool: ToolInfo {
            name: "voice-audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        audit_id: format!(
            "FE-BE-INT-{}-{}",
            started_at.format("%Y%m%d"),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        ),
        target: TargetInfo {
            base_url: base.clone(),
            contract: ContractInfo {
                title: api.title.clone(),
                version: api.version.clone(),
                spec_version: api.spec_version.clone(),
                source: api.source_name.clone(),
                operations: api.operations.len(),
            },
            ws_contract: ContractInfo {
                title: ws_contract.title.clone(),
                version: ws_contract.version.clone(),
                spec_version: ws_contract.spec_version.clone(),
                source: ws_contract.source_name.clone(),
                operations: ws_contract.messages.len(),
            },
            read_only,
        },
        started_at,
        finished_at,
        duration_ms: clock.elapsed().as_millis() as u64,
        findings: redact_findings(findings, &log),
        operations,
        metrics: metrics(&obs),
    };
    Ok(Audit::from_observed(observed.canonical(), profiles, log)?)
}

fn findings(
    api: &ApiContract,
    ws: &WsContract,
    obs: &Observations,
    log: &EvidenceLog,
) -> Vec<Finding> {
    let exchanges = log.exchanges();
    let no_token_ws = match &obs.stream {
        Some(Ok(s)) => Some(s.no_token_status),
        _ => None,
    };
    let mut out = check::contract::findings(api, &exchanges, &obs.walk, no_token_ws);
    out.extend(check::stream::findings(
        obs.stream.as_ref(),
        &obs.connections,
        ws,
    ));
    out.extend(check::switching::findings(obs.switching.as_ref()));
    out.extend(check::auth::findings(
        obs.auth.as_ref(),
        obs.walk.cross_user.as_deref(),
    ));
    out.push(check::forgery::finding(obs.auth.as_ref()));
    out.push(check::recovery::outage(obs.outage.as_ref()));
    out.push(check::recovery::restart(obs.restart.as_ref()));
    out.push(check::load::finding(obs.load.as_ref()));
    out.extend(check::instances::findings(obs.instances.as_ref()));
    out
}

/// Every probe after the walk, in the order that keeps them from disturbing each other.
async fn all_probes(
    ctx: &Ctx,
    obs: &mut Observations,
    cors_origin: Option<&str>,
    progress: Progress<'_>,
) {
    progress("probing the session stream");
    let stream = probe::stream::probe(ctx).await;
    if let Ok(s) = &stream {
        obs.connections.extend(s.connections.iter().cloned());
    }
    obs.stream = Some(stream);
    progress(&format!(
        "switching providers {} times mid-stream",
        ctx.settings.switches
    ));
    let switching = probe::switch::probe(ctx).await;
    if let Ok(s) = &switching {
        obs.connections.push(s.stream.clone());
    }
    obs.switching = Some(switching);
    progress("security headers, CORS, sign-in rate limit and readiness");
    obs.security = Some(probe::security::probe(ctx, cors_origin).await);
    progress("revocation, token lifecycle and cross-user isolation");
    obs.auth = Some(Ok(probe::revocation::probe(ctx).await));
}

/// Why a read-only run leaves a probe out; the checks report it as their "not assessed" reason.
pub const READ_ONLY: &str = "read-only run";

/// The probes of a read-only run: what only reads. The stream and switching scenarios need a
/// session created, revocation a logout, the lifecycle and cross-user probes registered users;
/// their checks are reported "not assessed: read-only run (…)".
async fn readonly_probes(
    ctx: &Ctx,
    obs: &mut Observations,
    cors_origin: Option<&str>,
    progress: Progress<'_>,
) {
    let no = |why: &str| format!("{READ_ONLY} ({why})");
    obs.stream = Some(Err(no("the stream scenario creates a session")));
    obs.switching = Some(Err(no("switching changes a session")));
    progress("security headers, CORS and readiness (read-only)");
    obs.security = Some(probe::security::probe(ctx, cors_origin).await);
    progress("forged tokens (read-only)");
    obs.auth = Some(Ok(probe::revocation::AuthObservation {
        forgery: Some(probe::forgery::probe(ctx, &ctx.user.access).await),
        revocation: Some(Err(no("revocation needs a logout"))),
        lifecycle: Some(Err(no("the token lifecycle signs in and rotates tokens"))),
        cross_user: None,
    }));
}

/// Details quote the deployment's answers; mask anything secret that slipped into them.
fn redact_findings(mut findings: Vec<Finding>, log: &EvidenceLog) -> Vec<Finding> {
    for c in &mut findings {
        c.summary = log.redactor.text(&c.summary);
        for d in &mut c.details {
            *d = log.redactor.text(d);
        }
    }
    findings
}

fn metrics(obs: &Observations) -> Metrics {
    let mut m = Metrics {
        distributions: distributions(obs),
        ..Metrics::default()
    };
    if let Some(Ok(load)) = &obs.load {
        m.load_steps = load
            .steps
            .iter()
            .map(|s| model::LoadStepMetric {
                role: s.role.name().to_owned(),
                step: s.step.to_string(),
                sent: s.sent,
                throughput_rps: s.throughput(),
                p50_ms: s.p50_ms,
                p99_ms: s.p99_ms,
                max_ms: s.max_ms,
                errors: s.errors,
                timeouts: s.timeouts,
            })
            .collect();
    }
    if let Some(Ok(s)) = &obs.stream {
        let sm = check::stream::metrics(s);
        m.ws_connect_ms = sm.connect_ms;
        m.ws_event_latency_ms = sm.event_latency_ms;
        m.ws_throughput_msg_s = sm.throughput_msg_s;
        m.ws_reconnect_ms = sm.reconnect_ms;
    }
    if let Some(Ok(s)) = &obs.switching {
        m.switch_latency_ms = s.latencies().percentiles();
        let n = s.attempts.len();
        if n > 0 {
            let ok = s
                .attempts
                .iter()
                .filter(|a| a.status.is_some_and(|c| (200..300).contains(&c)))
                .count();
            m.switch_success_rate = Some(ok as f64 / n as f64);
        }
    }
    if let Some(Ok(a)) = &obs.auth
        && let Some(Ok(r)) = &a.revocation
    {
        m.revocation_rest_ms = r.rest_rejected_after.map(|d| d.as_secs_f64() * 1000.0);
        m.revocation_ws_ms = r.ws_revoked_after().map(|d| d.as_secs_f64() * 1000.0);
    }
    m
}

/// Sets each plot's target line to the full-credit threshold of its check in `profile`
/// (observations are profile-free; each profile's report draws its own targets).
pub fn set_plot_targets(metrics: &mut Metrics, profile: &Profile) {
    let target = |id: &str| {
        profile
            .categories
            .iter()
            .flat_map(|c| &c.checks)
            .find(|c| c.id == id && c.unit == "ms")
            .map(|c| c.good)
    };
    let d = &mut metrics.distributions;
    for plot in [
        &mut d.ws_connect_ms,
        &mut d.ws_event_latency_ms,
        &mut d.switch_latency_ms,
    ]
    .into_iter()
    .flatten()
    {
        plot.target_ms = target(&plot.check_id);
    }
}

/// The plots' histograms, from the samples the matching checks are scored on (a failed connect
/// counts as the connect timeout, a transcript that never came as the wait, as in
/// `check::stream`); [`set_plot_targets`] adds each profile's target line.
fn distributions(obs: &Observations) -> model::Distributions {
    use crate::stats::Latencies;
    let of = |l: Latencies, id: &str| l.distribution(id, None);
    let mut d = model::Distributions::default();
    if let Some(Ok(s)) = &obs.stream {
        let mut connect = Latencies::new();
        s.connect_times.iter().for_each(|t| connect.record(*t));
        s.connect_failures
            .iter()
            .for_each(|_| connect.record(s.connect_timeout));
        d.ws_connect_ms = of(connect, "ws.connect_time");
        let mut events = Latencies::new();
        s.latencies
            .iter()
            .for_each(|t| events.record(t.unwrap_or(s.step_wait)));
        d.ws_event_latency_ms = of(events, "ws.event_latency");
    }
    if let Some(Ok(s)) = &obs.switching {
        d.switch_latency_ms = of(s.latencies(), "switch.latency");
    }
    d
}

/// `http(s)://host[:port][/prefix]` → (base URL without trailing slash, `ws(s)://…` base).
pub fn parse_target(target: &str) -> Result<(String, String), AuditError> {
    let invalid = |reason: &str| AuditError::InvalidTarget {
        url: target.to_string(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(target).map_err(|e| invalid(&e.to_string()))?;
    let ws_scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        _ => return Err(invalid("the scheme must be http or https")),
    };
    if url.host_str().is_none() {
        return Err(invalid("no host"));
    }
    let base = target.trim_end_matches('/').to_string();
    let ws_base = format!("{ws_scheme}{}", &base[url.scheme().len()..]);
    Ok((base, ws_base))
}

async fn reachable(http: &client::Http, base: &str) -> Result<(), AuditError> {
    // The health role when bound; otherwise any answer from the root shows the target is there.
    let path = http
        .binding()
        .role("health")
        .map_or_else(|_| "/".to_string(), |r| r.path.clone());
    let reply = http
        .send(
            "GET",
            &path,
            None,
            client::Body::None,
            crate::evidence::Purpose::Scenario("reachability".into()),
        )
        .await;
    match reply.error {
        Some(reason) if reply.status.is_none() => Err(AuditError::Unreachable {
            url: base.to_string(),
            reason,
        }),
        _ => Ok(()),
    }
}

/// Writes the evidence folder, `observations.json` (what `rescore` reads back) and the reports
/// of every profile; returns the files written.
pub fn write(
    audit: &mut Audit,
    formats: &[Format],
    out: &Path,
    evidence: bool,
) -> Result<Vec<PathBuf>, AuditError> {
    let mut written = Vec::new();
    if evidence {
        let dir = out.join("evidence");
        written.extend(
            audit
                .evidence
                .write(&dir)
                .map_err(|source| AuditError::Write { path: dir, source })?,
        );
        audit.report.evidence_dir = Some("evidence".to_string());
        for (_, r) in &mut audit.others {
            r.evidence_dir = Some("evidence".to_string());
        }
    }
    written.push(audit.observed.save(out)?);
    written.extend(crate::report_set::write(audit.reports(), formats, out)?);
    Ok(written)
}

/// The CI gate: `Ok(())` passes, `Err(reasons)` fails.
pub fn gate(
    report: &AuditReport,
    fail_under: Option<f64>,
    baseline: Option<&AuditReport>,
) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    if let Some(min) = fail_under
        && report.score.total < min
    {
        reasons.push(format!(
            "score {} is under --fail-under {min}",
            report.score.total
        ));
    }
    if let Some(base) = baseline {
        if report.score.total + 1e-9 < base.score.total {
            reasons.push(format!(
                "score fell from {} to {}",
                base.score.total, report.score.total
            ));
        }
        for old in &base.checks {
            let Some(new) = report.checks.iter().find(|c| c.id == old.id) else {
                continue;
            };
            if let (Some(was), Some(now)) = (old.credit, new.credit)
                && now + 1e-6 < was
            {
                reasons.push(format!(
                    "{} regressed: {:?} → {:?} ({})",
                    new.id, old.status, new.status, new.summary
                ));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(reasons)
    }
}

pub fn load_baseline(path: &Path) -> Result<AuditReport, AuditError> {
    let err = |reason: String| AuditError::Baseline {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let report: AuditReport = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let major = |v: &str| v.split('.').next().unwrap_or("").to_string();
    if major(&report.schema_version) != major(model::SCHEMA_VERSION) {
        return Err(err(format!(
            "schema_version {} is not {}",
            report.schema_version,
            model::SCHEMA_VERSION
        )));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_steps_reach_the_metrics_with_their_figures() {
        use crate::probe::load::{HealthAfter, LoadObservation, LoadRole, LoadStep, StepResult};
        let obs = Observations {
            load: Some(Ok(LoadObservation {
                steps: vec![StepResult {
                    role: LoadRole::Switch,
                    step: LoadStep::Rate(200.0),
                    elapsed: std::time::Duration::from_secs(2),
                    sent: 400,
                    ok: 380,
                    refused: 10,
                    errors: 7,
                    timeouts: 3,
                    p50_ms: 1.0,
                    p90_ms: 2.0,
                    p99_ms: 4.5,
                    max_ms: 9.0,
                }],
                skipped: Vec::new(),
                health_after: HealthAfter {
                    status: Some(200),
                    error: None,
                    elapsed: std::time::Duration::from_millis(1),
                },
            })),
            ..Observations::default()
        };
        let m = metrics(&obs);
        assert_eq!(m.load_steps.len(), 1);
        let s = &m.load_steps[0];
        assert_eq!((s.role.as_str(), s.step.as_str()), ("switch", "200 req/s"));
        assert_eq!((s.sent, s.errors, s.timeouts), (400, 7, 3));
        assert!(
            (s.throughput_rps - 195.0).abs() < 1e-9,
            "{}",
            s.throughput_rps
        );
        assert!(metrics(&Observations::default()).load_steps.is_empty());
    }

    #[test]
    fn targets_map_to_websocket_bases() {
        let (b, w) = parse_target("http://127.0.0.1:8000/").expect("valid");
        assert_eq!(
            (b.as_str(), w.as_str()),
            ("http://127.0.0.1:8000", "ws://127.0.0.1:8000")
        );
        let (_, w) = parse_target("https://voice.example.test/prefix").expect("valid");
        assert_eq!(w, "wss://voice.example.test/prefix");
        for bad in ["ftp://x", "not a url", "http://"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
