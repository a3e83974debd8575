//! The foreign deployment's published documents and its binding, derived from the reference
//! ones by the same renames the layer applies on the wire: paths under `/v2/`, other operation
//! ids, other request field names, and a `{"event", "sequence", "payload"}` stream envelope with
//! two events renamed.

use serde_json::{Map, Value, json};

/// Operation ids of the reference contract and their foreign names.
const RENAMED_OPERATIONS: &[(&str, &str)] = &[
    ("operationId: login", "operationId: signIn"),
    ("operationId: register", "operationId: signUp"),
    ("operationId: createSession", "operationId: startCall"),
    ("operationId: switchProvider", "operationId: changeProvider"),
];

/// Request and response properties renamed, per schema: (schema, reference name, foreign name).
pub const RENAMED_FIELDS: &[(&str, &str, &str)] = &[
    ("RegisterRequest", "email", "mail"),
    ("RegisterRequest", "password", "secret"),
    ("RegisterRequest", "display_name", "name"),
    ("LoginRequest", "email", "mail"),
    ("LoginRequest", "password", "secret"),
    ("SwitchProviderRequest", "provider", "target"),
    ("User", "display_name", "name"),
];

/// Server events renamed on the foreign stream: (reference name, foreign name).
pub const RENAMED_EVENTS: &[(&str, &str)] = &[
    ("transcript", "utterance"),
    ("provider_switched", "provider_changed"),
];

/// Where the foreign stream lives.
pub const STREAM_PREFIX: &str = "/v2/stream/";

/// The foreign OpenAPI document.
pub fn openapi() -> Value {
    let mut text = voice_audit::contract::BUNDLED_OPENAPI.replace("/api/v1/", "/v2/");
    for (from, to) in RENAMED_OPERATIONS {
        text = text.replace(from, to);
    }
    let mut doc: Value = yaml_serde::from_str(&text).expect("foreign contract");
    for (schema, from, to) in RENAMED_FIELDS {
        let s = &mut doc["components"]["schemas"][*schema];
        if let Some(props) = s.get_mut("properties").and_then(Value::as_object_mut)
            && let Some(v) = props.remove(*from)
        {
            props.insert(to.to_string(), v);
        }
        if let Some(required) = s.get_mut("required").and_then(Value::as_array_mut) {
            for r in required.iter_mut().filter(|r| r.as_str() == Some(*from)) {
                *r = json!(to);
            }
        }
    }
    // Its own provider list for a switch, in another order. (The walk matches enum fields of
    // an update to the resource's fields by name to avoid a no-op update; under a renamed field
    // it would send the session's current provider, which the server rightly refuses with 409.)
    doc["components"]["schemas"]["SwitchProviderRequest"]["properties"]["target"] =
        json!({"type": "string", "enum": ["openai", "deepgram", "gemini"]});
    // A published key set (the `jwks` role; the key-confusion attack uses it).
    doc["paths"][KEYS_PATH] = json!({"get": {
        "operationId": "jwks",
        "summary": "The public keys tokens are signed with",
        "security": [],
        "responses": {"200": {
            "description": "A JSON Web Key Set",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": {
                    "type": "object", "required": ["kty"],
                    "properties": {"kty": {"type": "string"}}}}}
            }}}
        }}
    }});
    doc
}

/// Where the foreign deployment publishes its key set.
pub const KEYS_PATH: &str = "/v2/keys";

/// The published key set: an Ed25519 key (the public key of RFC 8037 appendix A.2).
pub fn jwks() -> Value {
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
}

/// The foreign AsyncAPI document: every message of the reference stream re-shaped into the
/// foreign envelope (type → `event`, seq → `sequence`, every other field under `payload`).
pub fn asyncapi() -> Value {
    let mut doc: Value =
        yaml_serde::from_str(voice_audit::contract::BUNDLED_ASYNCAPI).expect("stream contract");
    doc["channels"]["sessionStream"]["address"] = json!(format!("{STREAM_PREFIX}{{session_id}}"));
    let schemas = doc["components"]["schemas"].clone();
    let envelope = schemas["Envelope"].clone();
    let messages = doc["components"]["messages"]
        .as_object_mut()
        .expect("messages");
    for message in messages.values_mut() {
        if let Some(name) = message["name"].as_str() {
            message["name"] = json!(foreign_event(name));
        }
        let pointer = message["payload"]["$ref"].as_str().unwrap_or_default();
        let schema_name = pointer.rsplit('/').next().unwrap_or_default();
        let reshaped = reshape(&schemas[schema_name], &envelope);
        message["payload"] = reshaped;
    }
    doc
}

pub fn foreign_event(name: &str) -> &str {
    RENAMED_EVENTS
        .iter()
        .find(|(from, _)| *from == name)
        .map_or(name, |(_, to)| to)
}

/// One message schema in the foreign envelope. A reference schema is flat (`type`, `seq`,
/// fields) or `allOf: [Envelope, {own fields}]`.
fn reshape(schema: &Value, envelope: &Value) -> Value {
    let mut props = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut merge = |part: &Value| {
        for (k, v) in part["properties"].as_object().into_iter().flatten() {
            let slot = props.entry(k.clone()).or_insert_with(|| json!({}));
            for (kk, vv) in v.as_object().into_iter().flatten() {
                slot[kk] = vv.clone();
            }
        }
        for r in part["required"].as_array().into_iter().flatten() {
            if !required.contains(r) {
                required.push(r.clone());
            }
        }
    };
    match schema["allOf"].as_array() {
        Some(parts) => {
            for part in parts {
                if part.get("$ref").is_some() {
                    merge(envelope);
                } else {
                    merge(part);
                }
            }
        }
        None => merge(schema),
    }
    let mut event = props
        .remove("type")
        .unwrap_or_else(|| json!({"type": "string"}));
    if let Some(name) = event["const"].as_str() {
        event["const"] = json!(foreign_event(name));
    }
    let sequence = props.remove("seq");
    let payload_required: Vec<Value> = required
        .iter()
        .filter(|r| !matches!(r.as_str(), Some("type" | "seq")))
        .cloned()
        .collect();
    let mut outer_props = Map::new();
    outer_props.insert("event".into(), event);
    let mut outer_required = vec![json!("event")];
    if let Some(seq) = sequence {
        outer_props.insert("sequence".into(), seq);
        outer_required.push(json!("sequence"));
    }
    outer_props.insert(
        "payload".into(),
        json!({"type": "object", "required": payload_required, "properties": props}),
    );
    outer_required.push(json!("payload"));
    json!({"type": "object", "required": outer_required, "properties": outer_props})
}

/// The foreign binding, written as a user would write it.
pub fn binding() -> String {
    r#"# Binding of the foreign test deployment.
version: 1
roles:
  register:
    operation: signUp
    request: { mail: "${email}", secret: "${password}", name: "${display_name}" }
    outputs:
      access_token: $response.body#/access_token
      refresh_token: $response.body#/refresh_token
  login:
    operation: signIn
    request: { mail: "${email}", secret: "${password}" }
    outputs:
      access_token: $response.body#/access_token
      refresh_token: $response.body#/refresh_token
  refresh:
    operation: POST /v2/auth/refresh
    request: { refresh_token: "${refresh_token}" }
    outputs:
      access_token: $response.body#/access_token
      refresh_token: $response.body#/refresh_token
  logout: { operation: logout }
  logout_all: { operation: logoutAll }
  me: { operation: me }
  session_create:
    operation: POST /v2/sessions
    request: { provider: "${provider}" }
    outputs:
      session_id: $response.body#/session/id
  session_get:
    operation: getSession
    outputs:
      provider: $response.body#/provider
      message_count: $response.body#/message_count
      status: $response.body#/status
      ended_at: $response.body#/ended_at
  session_list:
    operation: listSessions
    query: provider=${provider}&page_size=100
    outputs: { items: $response.body#/items }
    items: { id: /id }
  session_end: { operation: endSession }
  switch:
    operation: changeProvider
    request: { target: "${provider}", preserve_context: true, reason: "${reason}" }
    outputs:
      success: $response.body#/success
      context_preserved: $response.body#/context_preserved
  switch_status:
    operation: switchStatus
    outputs: { current_provider: $response.body#/current_provider }
  switch_history:
    operation: switchHistory
    outputs: { items: $response.body#/items }
    items: { to_provider: /to_provider }
  auto_failover:
    operation: autoFailover
    request: { force: "${force}", reason: "${reason}" }
    outputs:
      triggered: $response.body#/failover_triggered
      from_provider: $response.body#/switch/from_provider
      to_provider: $response.body#/switch/to_provider
  health: { operation: health }
  readiness: { operation: ready }
  published_contract: { operation: getContract }
  jwks: { operation: jwks }
invalid_provider: voice-audit-no-such-provider
stream:
  url: /v2/stream/{session_id}
  token: { in: header, name: X-Access-Token }
  frames:
    ping: { event: ping, payload: { timestamp: "${timestamp}" } }
    text: { event: text, payload: { text: "${text}", message_id: "${message_id}" } }
    resume: { event: resume, payload: { last_seq: "${last_seq}" } }
  pointers:
    type: /event
    sequence: /sequence
    timestamp: /payload/timestamp
    payload: /payload
    message_id: /payload/message_id
  events:
    transcript: utterance
    insight: insight
    provider_switched: provider_changed
    pong: pong
    error: error
    call_status: call_status
  close_codes: { revoked: [4001] }
"#
    .to_string()
}
