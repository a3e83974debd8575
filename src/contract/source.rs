//! Where a contract comes from: bundled with the tool, a file, or a URL (typically the target's
//! own `/openapi.json`). Returns the text and a name for messages and the report.

use super::ContractError;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractSource {
    Bundled,
    File(PathBuf),
    Url(String),
    /// The target's own published document (`/openapi.json`).
    Target,
}

impl ContractSource {
    /// `bundled`, `target`, `http(s)://…` or a path.
    pub fn parse(value: &str) -> ContractSource {
        if value == "bundled" {
            ContractSource::Bundled
        } else if value == "target" {
            ContractSource::Target
        } else if value.starts_with("http://") || value.starts_with("https://") {
            ContractSource::Url(value.to_string())
        } else {
            ContractSource::File(PathBuf::from(value))
        }
    }

    pub fn name(&self) -> String {
        match self {
            ContractSource::Bundled => "bundled".to_string(),
            ContractSource::File(p) => p.display().to_string(),
            ContractSource::Url(u) => u.clone(),
            ContractSource::Target => "target".to_string(),
        }
    }

    /// `Target` becomes the URL of `path` on the target; other sources stay as they are.
    pub fn on_target(&self, base: &str, path: &str) -> ContractSource {
        match self {
            ContractSource::Target => ContractSource::Url(format!("{base}{path}")),
            other => other.clone(),
        }
    }
}

/// Reads the text of a contract; `bundled` is the text given by the caller.
pub async fn load_text(
    source: &ContractSource,
    bundled: &str,
    client: &reqwest::Client,
) -> Result<String, ContractError> {
    match source {
        ContractSource::Bundled => Ok(bundled.to_string()),
        ContractSource::Target => Err(ContractError::Fetch {
            url: "target".to_string(),
            reason: "the target's own contract has no known path for this document".to_string(),
        }),
        ContractSource::File(path) => {
            tokio::fs::read_to_string(path)
                .await
                .map_err(|source| ContractError::Read {
                    path: path.clone(),
                    source,
                })
        }
        ContractSource::Url(url) => {
            let fetch = |reason: String| ContractError::Fetch {
                url: url.clone(),
                reason,
            };
            let response = client
                .get(url)
                .send()
                .await
                .map_err(|e| fetch(e.to_string()))?;
            if !response.status().is_success() {
                return Err(fetch(format!("HTTP {}", response.status())));
            }
            response.text().await.map_err(|e| fetch(e.to_string()))
        }
    }
}

/// Parses JSON or YAML (YAML is a superset, but JSON errors read better for JSON input).
pub(crate) fn parse_document(
    text: &str,
    source_name: &str,
) -> Result<serde_json::Value, ContractError> {
    let trimmed = text.trim_start();
    let result = if trimmed.starts_with('{') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        yaml_serde::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())
    };
    let value = result.map_err(|reason| ContractError::Syntax {
        source_name: source_name.to_string(),
        reason,
    })?;
    if !value.is_object() {
        return Err(ContractError::Syntax {
            source_name: source_name.to_string(),
            reason: "the document is not a mapping".to_string(),
        });
    }
    Ok(value)
}
