//! JWT attacks: tokens forged from the audit's own access token, each sent to the `me` role,
//! where every one must be refused with 401.
//!
//! The auditor holds no signing key, so it forges what an attacker can: the genuine token with
//! its `exp` moved into the past (signature kept), with `alg: none`, signed HS256 with a key of
//! its own, signed HS256 with a `kid` naming a file whose content is known (`/dev/null`), and —
//! when the binding names a `jwks` role — signed HS256 keyed with the published public key (the
//! algorithm-confusion attack). A server that verifies the algorithm, the signature and the
//! expiry refuses them all; one that trusts the header accepts some.

use super::{Ctx, describe};
use crate::binding::template::Vars;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const SCENARIO: &str = "forgery";

/// One forged token and how `me` answered it.
#[derive(Debug, Clone)]
pub struct ForgeryAttempt {
    pub label: String,
    /// `None`: no answer.
    pub status: Option<u16>,
    pub exchange_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct ForgeryObservation {
    /// Status of `me` with the genuine token (it must be accepted for refusals to mean anything).
    pub genuine_status: Option<u16>,
    pub attempts: Vec<ForgeryAttempt>,
    /// Attacks that could not be tried, with why (no `jwks` role bound, say).
    pub skipped: Vec<(String, String)>,
}

pub async fn probe(ctx: &Ctx, token: &str) -> Result<ForgeryObservation, String> {
    ctx.http.binding().role("me")?;
    let genuine = ctx
        .call_role("me", None, Some(token), &Vars::new(), SCENARIO)
        .await?;
    if !genuine.is_success() {
        return Err(format!(
            "the audit's own token was not accepted by the me role ({})",
            describe(&genuine)
        ));
    }
    let parts =
        Jwt::parse(token).ok_or("the access token is not a JWT (header.payload.signature)")?;
    let mut obs = ForgeryObservation {
        genuine_status: genuine.status,
        ..ForgeryObservation::default()
    };
    let mut forged = forged(&parts);
    match jwks_key(ctx, token).await {
        Ok(key) => forged.push((
            "signed HS256 with the published public key".to_string(),
            parts.signed_hs256(json!({"alg": "HS256", "typ": "JWT"}), &key),
        )),
        Err(reason) => obs.skipped.push((
            "signed HS256 with the published public key".to_string(),
            reason,
        )),
    }
    for (label, forged_token) in forged {
        ctx.http.log.redactor.add(&forged_token);
        let reply = ctx
            .call_role("me", None, Some(&forged_token), &Vars::new(), SCENARIO)
            .await?;
        obs.attempts.push(ForgeryAttempt {
            label,
            status: reply.status,
            exchange_id: reply.exchange_id,
        });
    }
    Ok(obs)
}

/// The attacks that need no published key.
fn forged(jwt: &Jwt) -> Vec<(String, String)> {
    let mut expired = jwt.payload.clone();
    let past = chrono::Utc::now().timestamp() - 3600;
    expired["exp"] = json!(past);
    if expired.get("iat").is_some() {
        expired["iat"] = json!(past - 60);
    }
    let mut signature: Vec<char> = jwt.signature.chars().collect();
    if let Some(c) = signature.first_mut() {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    vec![
        (
            "signature altered".to_string(),
            format!(
                "{}.{}.{}",
                jwt.header_b64,
                jwt.payload_b64,
                signature.into_iter().collect::<String>()
            ),
        ),
        (
            "exp moved into the past, signature kept".to_string(),
            format!(
                "{}.{}.{}",
                jwt.header_b64,
                encode_json(&expired),
                jwt.signature
            ),
        ),
        (
            "alg: none without a signature".to_string(),
            format!(
                "{}.{}.",
                encode_json(&json!({"alg": "none", "typ": "JWT"})),
                jwt.payload_b64
            ),
        ),
        (
            "signed HS256 with a key of the auditor's".to_string(),
            jwt.signed_hs256(
                json!({"alg": "HS256", "typ": "JWT"}),
                b"voice-audit-forged-key",
            ),
        ),
        (
            "kid pointing at /dev/null, signed HS256 with an empty key".to_string(),
            jwt.signed_hs256(
                json!({"alg": "HS256", "typ": "JWT", "kid": "../../../../../../../dev/null"}),
                b"",
            ),
        ),
    ]
}

/// The key material an algorithm-confusion attack uses: the first published key, as the PEM
/// a naive HS256 verifier would read from its key store (Ed25519 keys), else the JWK text.
async fn jwks_key(ctx: &Ctx, token: &str) -> Result<Vec<u8>, String> {
    ctx.http
        .binding()
        .role("jwks")
        .map_err(|_| "role jwks is not bound (no published key to confuse)".to_string())?;
    let reply = ctx
        .call_role("jwks", None, Some(token), &Vars::new(), SCENARIO)
        .await?;
    let key = reply
        .json()
        .and_then(|v| v.get("keys")?.as_array()?.first().cloned())
        .ok_or_else(|| format!("the jwks role returned no key ({})", describe(&reply)))?;
    Ok(confusion_key(&key))
}

/// The bytes a verifier that takes HS256 with "its key" would use as the HMAC secret: the PEM
/// of an Ed25519 public key (as kept in a key store), else the JWK's own text.
fn confusion_key(jwk: &Value) -> Vec<u8> {
    let x = jwk.get("x").and_then(Value::as_str).unwrap_or_default();
    match (
        jwk.get("crv").and_then(Value::as_str),
        URL_SAFE_NO_PAD.decode(x),
    ) {
        (Some("Ed25519"), Ok(raw)) if raw.len() == 32 => {
            // SubjectPublicKeyInfo of an Ed25519 key: a fixed 12-byte prefix and the key.
            let mut der = vec![
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ];
            der.extend_from_slice(&raw);
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                STANDARD.encode(der)
            )
            .into_bytes()
        }
        _ => jwk.to_string().into_bytes(),
    }
}

fn encode_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A compact JWS split into its parts.
struct Jwt {
    header_b64: String,
    payload_b64: String,
    signature: String,
    payload: Value,
}

impl Jwt {
    fn parse(token: &str) -> Option<Jwt> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        Some(Jwt {
            header_b64: h.to_string(),
            payload_b64: p.to_string(),
            signature: s.to_string(),
            payload,
        })
    }

    /// The same claims under `header`, signed HMAC-SHA256 with `key`.
    fn signed_hs256(&self, header: Value, key: &[u8]) -> String {
        let input = format!("{}.{}", encode_json(&header), self.payload_b64);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        let header = encode_json(&json!({"alg": "EdDSA", "typ": "JWT"}));
        let payload = encode_json(&json!({"sub": "u1", "exp": 4_000_000_000_i64, "iat": 1}));
        format!("{header}.{payload}.c2ln")
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
    }

    #[test]
    fn every_forgery_keeps_the_claims_but_not_a_valid_signature() {
        let jwt = Jwt::parse(&token()).expect("parses");
        let forged = forged(&jwt);
        assert_eq!(forged.len(), 5);
        for (label, t) in &forged {
            let parts: Vec<&str> = t.split('.').collect();
            assert_eq!(parts.len(), 3, "{label}");
            assert_eq!(decode(parts[1])["sub"], "u1", "{label}");
            assert_ne!(t, &token(), "{label}");
        }
        assert!(forged[0].1.ends_with(".A2ln"), "signature altered");
        let expired = decode(forged[1].1.split('.').nth(1).expect("payload"));
        assert!(expired["exp"].as_i64().expect("exp") < chrono::Utc::now().timestamp());
        assert!(forged[1].1.ends_with(".c2ln"), "signature kept");
        let none = decode(forged[2].1.split('.').next().expect("header"));
        assert_eq!(none["alg"], "none");
        assert!(forged[2].1.ends_with('.'));
        let kid = decode(forged[4].1.split('.').next().expect("header"));
        assert!(
            kid["kid"]
                .as_str()
                .is_some_and(|k| k.ends_with("/dev/null"))
        );
    }

    #[test]
    fn an_ed25519_jwk_becomes_the_pem_a_key_store_holds() {
        // The public key of RFC 8037 appendix A.2; `openssl pkey -pubin -text` reads this PEM
        // as that key (d7:5a:98:01:…).
        let jwk = json!({"kty": "OKP", "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        assert_eq!(
            String::from_utf8(confusion_key(&jwk)).expect("utf-8"),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n"
        );
        let rsa = json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"});
        assert_eq!(confusion_key(&rsa), rsa.to_string().into_bytes());
    }

    #[test]
    fn tokens_that_are_not_jwts_are_not_parsed() {
        assert!(Jwt::parse("opaque").is_none());
        assert!(Jwt::parse("a.b.c.d").is_none());
        assert!(Jwt::parse("a.!!.c").is_none());
    }

    #[test]
    fn hs256_signatures_match_an_independent_computation() {
        // HMAC-SHA256 with key "key" over `eyJhbGciOiJIUzI1NiJ9.b`, computed with Python's hmac.
        let jwt = Jwt {
            header_b64: String::new(),
            payload_b64: "b".into(),
            signature: String::new(),
            payload: json!({}),
        };
        assert_eq!(
            jwt.signed_hs256(json!({"alg": "HS256"}), b"key"),
            "eyJhbGciOiJIUzI1NiJ9.b.xKzx0NdrrR1YcHzUp-lT84zf4vfJpRJ3FOWXgPfwF_c"
        );
    }
}
