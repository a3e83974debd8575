//! Several instances (`--target` repeated): a deployment behind a load balancer keeps its
//! promises only if every instance sees what another one did. Through the first target this
//! probe switches a session's provider and then signs the token out; on every other target it
//! watches a stream of the same session and polls the `me` role with the same token.
//!
//! It observes, per other instance: whether the switch event reached that instance's stream and
//! with which sequence number (next to the one the first instance's own stream got), and how
//! long after the logout that instance refused the token on REST and closed its socket.

use super::{Ctx, auth, vars, ws};
use crate::binding::envelope::EventKind;
use crate::binding::template::Vars;
use serde_json::json;
use std::time::{Duration, Instant};

const SCENARIO: &str = "instances";

#[derive(Debug, Clone)]
pub struct InstanceResult {
    pub base: String,
    /// Whether this instance's stream answered before anything was changed.
    pub ws_alive: bool,
    /// The switch event through the first instance, as this instance's stream got it.
    pub event_after: Option<Duration>,
    pub event_seq: Option<u64>,
    /// From the logout's answer to this instance's first 401 on `me`.
    pub rest_refused_after: Option<Duration>,
    /// From the logout's answer to the close of this instance's socket, and its code.
    pub ws_closed_after: Option<Duration>,
    pub ws_close_code: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct InstancesObservation {
    /// The instance the switch and the logout went through.
    pub primary: String,
    /// Sequence number of the switch event on the first instance's own stream.
    pub primary_seq: Option<u64>,
    pub primary_event: bool,
    pub switch_status: Option<u16>,
    pub logout_status: Option<u16>,
    pub instances: Vec<InstanceResult>,
    pub revocation_codes: Vec<u16>,
    /// How long each wait lasted at most.
    pub waited: Duration,
}

/// `others`: (base URL, ws base) of every target after the first.
pub async fn probe(ctx: &Ctx, others: &[(String, String)]) -> Result<InstancesObservation, String> {
    if ctx.settings.read_only {
        return Err(
            "read-only run (the scenario switches a provider and signs a token out)".into(),
        );
    }
    if ctx.user.password.is_empty() {
        return Err("needs a password to sign in a second time (--email/--password or a registered user), not only --token".into());
    }
    let victim = auth::login(&ctx.http, &ctx.user.email, &ctx.user.password, SCENARIO).await?;
    let providers = super::switch::providers(ctx)?;
    if providers.len() < 2 {
        return Err("the binding names fewer than two providers".into());
    }
    let sid = ctx
        .create_session(&victim.access, &providers[0], SCENARIO)
        .await?;
    let wait = ctx.settings.timeout;
    let (mut primary, _) = ctx
        .ws_connect(&sid, Some(&victim.access), SCENARIO)
        .await
        .map_err(|e| format!("the first instance refused the stream: {e}"))?;
    super::stream::alive(&mut primary, 0, wait).await;
    let mut remote = Vec::new();
    for (base, ws_base) in others {
        let other = on(ctx, base, ws_base);
        let conn = match other.ws_connect(&sid, Some(&victim.access), SCENARIO).await {
            Ok((mut conn, _)) => {
                let alive = super::stream::alive(&mut conn, 0, wait).await;
                Some((conn, alive))
            }
            Err(_) => None,
        };
        remote.push((other, conn));
    }

    // An event caused through the first instance.
    let switch_vars = vars(&[
        ("provider", json!(providers[1])),
        ("reason", json!("voice-audit cross-instance probe")),
    ]);
    let switch = ctx
        .call_role(
            "switch",
            Some(&sid),
            Some(&victim.access),
            &switch_vars,
            SCENARIO,
        )
        .await?;
    let switched_at = Instant::now();
    let (primary_event, primary_seq) = match switch_event(&mut primary, switched_at + wait).await {
        Some((_, seq)) => (true, seq),
        None => (false, None),
    };
    let mut results = Vec::new();
    for (other, conn) in &mut remote {
        let mut r = InstanceResult {
            base: other.http.base().to_string(),
            ws_alive: false,
            event_after: None,
            event_seq: None,
            rest_refused_after: None,
            ws_closed_after: None,
            ws_close_code: None,
        };
        if let Some((conn, alive)) = conn {
            r.ws_alive = *alive;
            if let Some((at, seq)) = switch_event(conn, switched_at + wait).await {
                r.event_after = Some(at.saturating_duration_since(switched_at));
                r.event_seq = seq;
            }
        }
        results.push(r);
    }

    // A revocation through the first instance.
    let logout = ctx
        .call_role("logout", None, Some(&victim.access), &Vars::new(), SCENARIO)
        .await?;
    let revoked_at = Instant::now();
    let deadline = revoked_at + wait;
    let watches = remote
        .iter_mut()
        .zip(results.iter_mut())
        .map(|((other, conn), r)| {
            let token = victim.access.clone();
            async move {
                let rest = async {
                    while Instant::now() < deadline {
                        let reply = other
                            .call_role("me", None, Some(&token), &Vars::new(), "instances-poll")
                            .await;
                        if reply.as_ref().is_ok_and(|r| r.status == Some(401)) {
                            return Some(revoked_at.elapsed());
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    None
                };
                let socket = async {
                    let Some((conn, true)) = conn else {
                        return (None, None);
                    };
                    loop {
                        match conn.next(deadline).await {
                            ws::Next::Message(_) => continue,
                            ws::Next::Closed { code, at } => {
                                return (Some(at.saturating_duration_since(revoked_at)), code);
                            }
                            ws::Next::Timeout | ws::Next::Failed(_) => return (None, None),
                        }
                    }
                };
                let (rest, (closed, code)) = tokio::join!(rest, socket);
                r.rest_refused_after = rest;
                r.ws_closed_after = closed;
                r.ws_close_code = code;
            }
        });
    futures_util::future::join_all(watches).await;
    primary.finish().await;
    for (_, conn) in remote {
        if let Some((conn, _)) = conn {
            conn.finish().await;
        }
    }
    Ok(InstancesObservation {
        primary: ctx.http.base().to_string(),
        primary_seq,
        primary_event,
        switch_status: switch.status,
        logout_status: logout.status,
        instances: results,
        revocation_codes: ctx.revocation_codes(),
        waited: wait,
    })
}

/// The same probe context on another instance of the deployment.
fn on(ctx: &Ctx, base: &str, ws_base: &str) -> Ctx {
    Ctx {
        http: ctx.http.on(base),
        ws_base: ws_base.to_string(),
        ..ctx.clone()
    }
}

/// Waits for the provider-switched event; when it came and its sequence number.
async fn switch_event(conn: &mut ws::WsConn, deadline: Instant) -> Option<(Instant, Option<u64>)> {
    loop {
        match conn.next(deadline).await {
            ws::Next::Message(m) if m.event.kind == Some(EventKind::ProviderSwitched) => {
                return Some((m.at, m.event.seq));
            }
            ws::Next::Message(_) => continue,
            _ => return None,
        }
    }
}
