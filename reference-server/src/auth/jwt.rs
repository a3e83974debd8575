//! Signing and verifying access tokens (EdDSA / Ed25519 only; `alg: none` and every other
//! algorithm are rejected by construction).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::verified::Verified;

/// Access-token claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Token id (UUID), the unit of logout.
    pub jti: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Issued at, Unix milliseconds (compared with logout-all cut-offs).
    pub iat_ms: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// `user` or `admin`.
    pub role: String,
}

impl Claims {
    /// The user id as a UUID.
    pub fn user_id(&self) -> Result<Uuid, TokenError> {
        Uuid::parse_str(&self.sub).map_err(|_| TokenError::Invalid)
    }
}

/// Why a token was not accepted, or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, format or claims.
    #[error("invalid token")]
    Invalid,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// The key file could not be used.
    #[error("signing key: {0}")]
    Key(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Issues and verifies access tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens already verified with this key (see [`super::verified`]).
    verified: Verified,
    /// Access-token lifetime.
    pub access_ttl: Duration,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("access_ttl", &self.access_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// Uses the PKCS#8 PEM key at `path`, or a freshly generated key.
    pub fn new(key_file: Option<&Path>, access_ttl: Duration) -> Result<TokenService, TokenError> {
        let signing = match key_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| TokenError::Key(format!("{}: {e}", path.display())))?;
                SigningKey::from_pkcs8_pem(&pem).map_err(|e| TokenError::Key(e.to_string()))?
            }
            None => SigningKey::generate(&mut rand::rngs::OsRng),
        };
        let der = signing
            .to_pkcs8_der()
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Ok(TokenService {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            // jsonwebtoken's Ed verifier takes the raw 32-byte public key.
            decoding: DecodingKey::from_ed_der(signing.verifying_key().as_bytes()),
            validation,
            verified: Verified::default(),
            access_ttl,
        })
    }

    /// A new Ed25519 signing key as PKCS#8 PEM, for `--jwt-key-file` (what
    /// `openssl genpkey -algorithm ed25519` writes).
    pub fn generate_pem() -> Result<String, TokenError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        key.to_pkcs8_pem(Default::default())
            .map(|pem| pem.to_string())
            .map_err(|e| TokenError::Key(e.to_string()))
    }

    /// Fresh claims for `user_id` valid for the access TTL.
    pub fn claims_for(&self, user_id: Uuid, role: &str) -> Claims {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let iat = now_ms.div_euclid(1000);
        Claims {
            sub: user_id.to_string(),
            jti: Uuid::new_v4().to_string(),
            iat,
            iat_ms: now_ms,
            exp: iat.saturating_add(i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX)),
            role: role.to_owned(),
        }
    }

    /// Signs arbitrary claims (tests use it to mint expired tokens).
    pub fn encode(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies signature, algorithm and expiry. A token this service verified before is not
    /// verified again (see [`super::verified`]); its expiry always is.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let claims = match self.verified.get(token) {
            Some(claims) => claims,
            None => {
                let claims =
                    match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
                        Ok(data) => Arc::new(data.claims),
                        Err(e)
                            if matches!(
                                e.kind(),
                                jsonwebtoken::errors::ErrorKind::ExpiredSignature
                            ) =>
                        {
                            return Err(TokenError::Expired);
                        }
                        Err(_) => return Err(TokenError::Invalid),
                    };
                self.verified.insert(token, claims.clone(), now);
                claims
            }
        };
        // The rule `Validation` applies with no leeway: expired once `exp` is in the past.
        if claims.exp < now {
            return Err(TokenError::Expired);
        }
        Ok(Claims::clone(&claims))
    }
}
