//! Renders a finished [`AuditReport`] into the formats people and CI read.
//!
//! Renderers only read the report: every number was fixed by scoring, so Markdown, HTML, JSON,
//! JUnit, SARIF and the terminal summary can never disagree. Templates are embedded in the binary so the
//! tool works from any directory; `--templates` (a folder) overrides them for custom layouts.

mod context;
#[cfg(test)]
mod fixture;
mod html;
mod json;
mod junit;
mod markdown;
mod sarif;
mod svg;
mod terminal;

use std::path::{Path, PathBuf};

use crate::model::AuditReport;

pub use context::{CheckView, ReportContext, cell, num};
pub use html::{EMBEDDED_HTML_TEMPLATE, render_markdown as html_around_markdown};
pub use terminal::{colour_enabled, paint_verdict, summary_table};

/// The embedded Markdown template (seed 000's audit template, filled from the report).
pub const EMBEDDED_MARKDOWN_TEMPLATE: &str = include_str!("../../templates/report.md");

/// A file format the report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// `report.md`: the filled audit template.
    #[value(name = "md", alias = "markdown")]
    Markdown,
    /// `results.json`: the `AuditReport` itself (the versioned results schema).
    Json,
    /// `junit.xml`: one test case per check, for CI dashboards.
    Junit,
    /// `report.html`: the Markdown report as one offline page, with plots.
    Html,
    /// `voice-audit.sarif`: failed checks as SARIF 2.1.0 alerts for code scanning.
    Sarif,
}

impl Format {
    /// Every format, in the order `write_all` writes them by default.
    pub const ALL: [Format; 5] = [
        Format::Markdown,
        Format::Json,
        Format::Junit,
        Format::Html,
        Format::Sarif,
    ];

    /// The file this format is written to inside the output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Markdown => "report.md",
            Format::Json => "results.json",
            Format::Junit => "junit.xml",
            Format::Html => "report.html",
            Format::Sarif => "voice-audit.sarif",
        }
    }
}

/// A Tera failure of the template `name`, with its whole cause chain (Tera's own message
/// rarely names the problem).
pub(crate) fn render_failed(name: impl Into<String>, source: tera::Error) -> ReportError {
    let mut detail = source.to_string();
    let mut cause = std::error::Error::source(&source);
    while let Some(err) = cause {
        detail.push_str(": ");
        detail.push_str(&err.to_string());
        cause = err.source();
    }
    ReportError::Render {
        name: name.into(),
        detail,
        source,
    }
}

/// The tool failing to render or write a report (never a finding about the target).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the templates folder {path} does not exist")]
    TemplatesDir { path: PathBuf },
    #[error("cannot read the template {path}: {source}")]
    ReadTemplate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render the template {name}: {detail}")]
    Render {
        name: String,
        /// The whole cause chain, since Tera's top-level message alone rarely names the problem.
        detail: String,
        source: tera::Error,
    },
    #[error("cannot serialise the report to JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot create the output folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Renders `report` in `format`. `templates_dir`, when given, must exist; a `report.md` or
/// `report.html` in it replaces the embedded template (JSON, JUnit and SARIF are not templated;
/// the HTML page's body is the Markdown report).
pub fn render(
    report: &AuditReport,
    format: Format,
    templates_dir: Option<&Path>,
) -> Result<String, ReportError> {
    match format {
        Format::Markdown => {
            let template = markdown_template(templates_dir)?;
            markdown::render(report, &template)
        }
        Format::Json => json::render(report),
        Format::Junit => Ok(junit::render(report)),
        Format::Html => html::render(
            report,
            &markdown_template(templates_dir)?,
            &template(templates_dir, Format::Html, EMBEDDED_HTML_TEMPLATE)?,
        ),
        Format::Sarif => sarif::render(report),
    }
}

/// Writes each of `formats` into `out_dir` (created if missing) with the embedded templates,
/// and returns the paths written, in the order of `formats`.
pub fn write_all(
    report: &AuditReport,
    formats: &[Format],
    out_dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    write_all_with(report, formats, out_dir, None)
}

/// [`write_all`] with an optional templates folder, as [`render`] takes it.
pub fn write_all_with(
    report: &AuditReport,
    formats: &[Format],
    out_dir: &Path,
    templates_dir: Option<&Path>,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::with_capacity(formats.len());
    for &format in formats {
        let text = render(report, format, templates_dir)?;
        let path = out_dir.join(format.file_name());
        std::fs::write(&path, text).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

fn markdown_template(templates_dir: Option<&Path>) -> Result<String, ReportError> {
    template(templates_dir, Format::Markdown, EMBEDDED_MARKDOWN_TEMPLATE)
}

fn template(
    templates_dir: Option<&Path>,
    format: Format,
    embedded: &str,
) -> Result<String, ReportError> {
    let Some(dir) = templates_dir else {
        return Ok(embedded.to_owned());
    };
    if !dir.is_dir() {
        return Err(ReportError::TemplatesDir {
            path: dir.to_path_buf(),
        });
    }
    let path = dir.join(format.file_name());
    if !path.exists() {
        // A folder that customises only some formats keeps the embedded template for the rest.
        return Ok(embedded.to_owned());
    }
    std::fs::read_to_string(&path).map_err(|source| ReportError::ReadTemplate { path, source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn write_all_writes_each_format_once() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let report = fixture::mixed();
        let paths = write_all(&report, &Format::ALL, &out).unwrap();
        let names: Vec<_> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "report.md",
                "results.json",
                "junit.xml",
                "report.html",
                "voice-audit.sarif"
            ]
        );
        for p in &paths {
            assert!(std::fs::metadata(p).unwrap().len() > 0, "{p:?} is empty");
        }
    }

    #[test]
    fn templates_dir_overrides_the_embedded_markdown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), "Score {{ score.total }}").unwrap();
        let text = render(&fixture::all_pass(), Format::Markdown, Some(dir.path())).unwrap();
        assert_eq!(text, "Score 100");
    }

    #[test]
    fn a_missing_templates_dir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = render(
            &fixture::all_pass(),
            Format::Markdown,
            Some(&dir.path().join("nope")),
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::TemplatesDir { .. }), "{err}");
    }

    #[test]
    fn a_broken_template_names_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report.md"), "{{ no_such_field }}").unwrap();
        let err = render(&fixture::all_pass(), Format::Markdown, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("no_such_field"), "{err}");
    }
}
