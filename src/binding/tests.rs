//! The bundled binding validates against the bundled contract, and every kind of broken binding
//! is refused with a message naming what is wrong.

use super::*;
use crate::contract::BUNDLED_OPENAPI;

fn contract() -> ApiContract {
    ApiContract::parse(BUNDLED_OPENAPI, "bundled").expect("bundled contract")
}

fn refused(text: &str, needle: &str) {
    match Binding::parse(text, "test", &contract()) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => assert!(e.to_string().contains(needle), "{e} lacks {needle:?}"),
    }
}

#[test]
fn the_reference_binding_binds_every_role_the_reference_server_has() {
    let b = Binding::reference(&contract()).expect("reference binding");
    let switch = b.role("switch").expect("switch bound");
    assert_eq!(switch.method, "POST");
    assert_eq!(switch.path, "/api/v1/sessions/{session_id}/switch-provider");
    assert_eq!(b.stream().expect("stream").close_codes.revoked, vec![4001]);
    // The reference contract has no provider listing.
    assert_eq!(
        b.role("provider_list").unwrap_err(),
        "role provider_list is not bound"
    );
}

#[test]
fn broken_bindings_are_refused_with_the_reason() {
    refused(
        "version: 1\nroles:\n  login: { operation: signIn }",
        "no operation with id \"signIn\"",
    );
    refused(
        "version: 1\nroles:\n  login: { operation: POST /nope }",
        "no operation POST /nope",
    );
    refused(
        "version: 1\nroles:\n  logn: { operation: login }",
        "unknown role \"logn\"",
    );
    refused(
        "version: 1\nroles:\n  login: { operation: login, request: { email: \"${email\" } }",
        "unclosed",
    );
    refused(
        "version: 1\nroles:\n  login: { operation: login, outputs: { access_token: access_token } }",
        "neither a JSON pointer",
    );
    refused(
        "version: 1\nstream: { url: /ws, token: { in: query, name: t }, pointers: { type: type } }",
        "must start with '/'",
    );
    refused(
        "version: 1\nstream: { token: { in: query, name: t } }",
        "exactly one of url",
    );
    refused("version: 2", "version 2");
    refused("version: 1\nroles: [", "not valid YAML");
    refused("version: 1\nrolez: {}", "not valid YAML");
}

#[test]
fn the_reference_binding_leaves_roles_a_foreign_contract_lacks_unbound() {
    let foreign =
        BUNDLED_OPENAPI.replace("operationId: switchProvider", "operationId: changeProvider");
    let contract = ApiContract::parse(&foreign, "foreign").expect("contract");
    let b = Binding::reference(&contract).expect("lenient");
    assert_eq!(b.role("switch").unwrap_err(), "role switch is not bound");
    assert!(b.role("login").is_ok());
    // The same text given as --binding is strict.
    assert!(Binding::parse(REFERENCE, "explicit", &contract).is_err());
}

#[test]
fn a_draft_of_the_reference_contract_is_a_valid_binding_with_the_right_guesses() {
    let text = draft::draft(&contract());
    let b = Binding::parse(&text, "draft", &contract()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let path = |role: &str| b.role(role).map(|r| r.path.clone()).unwrap_or_default();
    assert_eq!(
        path("switch"),
        "/api/v1/sessions/{session_id}/switch-provider"
    );
    assert_eq!(path("login"), "/api/v1/auth/login");
    assert_eq!(path("logout"), "/api/v1/auth/logout");
    assert_eq!(path("logout_all"), "/api/v1/auth/logout-all");
    assert_eq!(path("session_create"), "/api/v1/sessions");
    assert_eq!(path("session_get"), "/api/v1/sessions/{session_id}");
    assert!(
        b.role("login")
            .is_ok_and(|r| r.outputs.contains_key("access_token"))
    );
    assert!(text.contains("# guess"), "{text}");
    let list = b.role("session_list").expect("session_list drafted");
    assert_eq!(
        list.items.get("id").map(String::as_str),
        Some("/id"),
        "{text}"
    );
    let history = b.role("switch_history").expect("switch_history drafted");
    assert_eq!(
        history.items.get("to_provider").map(String::as_str),
        Some("/to_provider"),
        "{text}"
    );
    let failover = b.role("auto_failover").expect("auto_failover drafted");
    assert_eq!(
        failover.outputs.get("to_provider"),
        Some(&template::Source::Body("/switch/to_provider".into())),
        "{text}"
    );
    assert!(text.contains("provider_list: UNBOUND"), "{text}");
}

#[test]
fn a_stream_needs_its_frames_and_pointers() {
    refused(
        "version: 1\nstream: { url: /ws, token: { in: query, name: t }, pointers: { type: /t, sequence: /s } }",
        "the frame ping is missing",
    );
    refused(
        "version: 1\nstream: { url: /ws, token: { in: query, name: t }, frames: { ping: {}, text: {}, resume: {} }, pointers: { type: /t } }",
        "the pointer sequence is missing",
    );
    refused(
        "version: 1\nstream: { url: /ws, token: { in: query, name: t }, frames: { pong: {} } }",
        "unknown frame \"pong\"",
    );
}

#[test]
fn the_rest_token_goes_where_the_auth_option_says() {
    let b = Binding::reference(&contract()).expect("reference binding");
    assert_eq!(
        b.auth.header("t0k"),
        ("authorization".to_string(), "Bearer t0k".to_string())
    );
    let text = format!("{REFERENCE}auth: {{ in: cookie, name: sid }}\n");
    let b = Binding::parse(&text, "cookie", &contract()).expect("cookie binding");
    assert_eq!(
        b.auth.header("t0k"),
        ("cookie".to_string(), "sid=t0k".to_string())
    );
    refused("version: 1\nauth: { in: query, name: t }", "not valid YAML");
}

#[test]
fn a_binding_without_a_stream_reads_frames_like_the_reference() {
    let b = Binding::parse("version: 1\n", "bare", &contract()).expect("bare binding");
    let reference = Binding::reference(&contract()).expect("reference binding");
    let frame =
        reference
            .envelope
            .compose_event(envelope::EventKind::Pong, Some(4), serde_json::json!({}));
    assert_eq!(
        b.envelope.classify(&frame),
        reference.envelope.classify(&frame)
    );
    assert_eq!(
        b.envelope.classify(&frame).kind,
        Some(envelope::EventKind::Pong)
    );
}

#[test]
fn list_roles_read_their_items_and_take_a_query() {
    let b = Binding::reference(&contract()).expect("reference binding");
    let list = b.role("session_list").expect("session_list bound");
    assert_eq!(list.items.get("id").map(String::as_str), Some("/id"));
    assert!(
        list.query
            .as_deref()
            .is_some_and(|q| q.contains("${provider}"))
    );
    refused(
        "version: 1\nroles:\n  session_list: { operation: listSessions, items: { id: /id } }",
        "need an `items` output",
    );
    refused(
        "version: 1\nroles:\n  session_list: { operation: listSessions, query: \"p=${open\" }",
        "unclosed",
    );
}
