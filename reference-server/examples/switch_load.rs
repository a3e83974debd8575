//! Open-loop load of provider switches, for `bench/hot-path.sh`.
//!
//! A closed-loop client (send, wait, send) slows down with the server and hides its stalls;
//! this one sends at a fixed arrival rate whatever the server does, and measures each switch
//! from the moment it was *meant* to be sent, so a stall shows up in the latency of every
//! request queued behind it (coordinated omission corrected). It creates `--sessions` live
//! sessions with a stream connected to each (so every switch is also pushed to a socket),
//! then sends `--rate` switches per second for `--seconds`, round-robin over the sessions,
//! each session rotating gemini → openai → deepgram.
//!
//! Usage: `switch_load --base-url http://127.0.0.1:8000` with the access token in
//! `SWITCH_LOAD_TOKEN` (never on the command line, where `ps` shows it). Output: a summary
//! line starting with `switch_load:` (latencies in ms, from HDR histograms).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const PROVIDERS: [&str; 3] = ["gemini", "openai", "deepgram"];

#[derive(Debug, Parser)]
struct Args {
    /// The server.
    #[arg(long)]
    base_url: String,
    /// Access token of the user owning the sessions.
    #[arg(long, env = "SWITCH_LOAD_TOKEN", hide_env_values = true)]
    token: String,
    /// Switches per second (arrival rate).
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Duration of the load.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Live sessions the switches are spread over.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
}

/// How one switch ended.
enum Outcome {
    Ok(Duration),
    Status(u16, Duration),
    Transport(Duration),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // reqwest's features are unified with voice-audit's in a workspace build (no default
    // crypto provider); the load is plain http, but the client builder insists on one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .tcp_nodelay(true)
        .build()?;
    let base = args.base_url.trim_end_matches('/').to_owned();
    let auth = format!("Bearer {}", args.token);

    let mut sessions = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let created: serde_json::Value = client
            .post(format!("{base}/api/v1/sessions"))
            .header("authorization", &auth)
            .json(&serde_json::json!({ "provider": PROVIDERS[0] }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["session"]["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no session id in {created}"))?
            .to_owned();
        sessions.push(id);
    }

    // One stream per session, counting the switch events it is sent.
    let pushed = Arc::new(AtomicU64::new(0));
    let ws_base = base.replacen("http", "ws", 1);
    let mut streams = JoinSet::new();
    for id in &sessions {
        let url = format!("{ws_base}/ws/sessions/{id}?token={}", args.token);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
        let pushed = pushed.clone();
        streams.spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                if let Message::Text(text) = frame
                    && text.contains("\"provider_switched\"")
                {
                    pushed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    let total = u64::from(args.rate) * u64::from(args.seconds);
    let interval = Duration::from_secs(1) / args.rate.max(1);
    let sessions: Arc<Vec<String>> = Arc::new(sessions);
    let mut requests = JoinSet::new();
    let start = Instant::now() + Duration::from_millis(50);
    for i in 0..total {
        let intended = start + interval * u32::try_from(i)?;
        tokio::time::sleep_until(intended).await;
        let n = usize::try_from(i)?;
        let session = n % sessions.len();
        let round = n / sessions.len();
        let to = PROVIDERS[(round + 1) % PROVIDERS.len()];
        let request = client
            .post(format!(
                "{base}/api/v1/sessions/{}/switch-provider",
                sessions[session]
            ))
            .header("authorization", &auth)
            .json(&serde_json::json!({ "provider": to, "reason": "load test" }));
        requests.spawn(async move {
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let body = response.bytes().await;
                    let elapsed = intended.elapsed();
                    match body {
                        Ok(_) if status.is_success() => Outcome::Ok(elapsed),
                        Ok(_) => Outcome::Status(status.as_u16(), elapsed),
                        Err(_) => Outcome::Transport(elapsed),
                    }
                }
                Err(_) => Outcome::Transport(intended.elapsed()),
            }
        });
    }
    let sending_took = start.elapsed();

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    while let Some(joined) = requests.join_next().await {
        let (elapsed, label) = match joined? {
            Outcome::Ok(d) => {
                ok += 1;
                (d, None)
            }
            Outcome::Status(code, d) => (d, Some(code.to_string())),
            Outcome::Transport(d) => (d, Some("transport".to_owned())),
        };
        if let Some(label) = label {
            errors += 1;
            *statuses.entry(label).or_default() += 1;
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        latency.saturating_record(micros.max(1));
    }
    // Let the last pushes arrive before counting them.
    let deadline = Instant::now() + Duration::from_secs(2);
    while pushed.load(Ordering::Relaxed) < ok && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    streams.abort_all();

    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "switch_load: rate={}/s seconds={} sessions={} sent={total} ok={ok} errors={errors} \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.2} pushed={} send_window_s={:.2} error_kinds={:?}",
        args.rate,
        args.seconds,
        sessions.len(),
        ms(0.50),
        ms(0.99),
        latency.max() as f64 / 1000.0,
        pushed.load(Ordering::Relaxed),
        sending_took.as_secs_f64(),
        statuses,
    );
    Ok(())
}
