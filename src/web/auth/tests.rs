//! Tests of the web configuration: parsing, credentials, the stand-in hash, reload.

use super::*;

fn parse(text: &str) -> Result<WebConfig, String> {
    WebConfig::parse(text, Path::new("/nonexistent")).map_err(|e| e.to_string())
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn an_empty_file_configures_nothing() {
    let c = parse("").unwrap();
    assert!(c.tls.is_none() && c.auth.is_none());
    assert!(parse("{}").unwrap().auth.is_none());
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let e = parse("basic_auth_user:\n  a: b\n").unwrap_err();
    assert!(e.contains("unknown field `basic_auth_user`"), "{e}");
    let e = parse("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n").unwrap_err();
    assert!(e.contains("client_ca_file"), "{e}");
}

#[test]
fn a_password_instead_of_a_bcrypt_hash_is_rejected() {
    let e = parse("basic_auth_users:\n  alice: hunter2\n").unwrap_err();
    assert!(e.contains("basic_auth_users.alice: not a bcrypt hash"), "{e}");
    assert!(!e.contains("hunter2"), "the error must not echo the secret: {e}");
}

#[test]
fn bearer_tokens_must_be_sha256_digests() {
    let e = parse("bearer_tokens:\n  grafana: s3cret\n").unwrap_err();
    assert!(e.contains("bearer_tokens.grafana: must be sha256:"), "{e}");
    let e = parse("bearer_tokens:\n  grafana: sha256:abcd\n").unwrap_err();
    assert!(e.contains("not 64 hex digits"), "{e}");
}

#[test]
fn old_tls_versions_and_missing_certificates_are_reported() {
    let e = parse("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS11\n").unwrap_err();
    assert!(e.contains("TLS11 is not offered"), "{e}");
    let e = parse("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n").unwrap_err();
    assert!(e.contains("/nonexistent/a.crt"), "{e}");
}

#[tokio::test]
async fn basic_auth_checks_the_bcrypt_hash_and_remembers_success() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let c = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let auth = c.auth.unwrap();
    assert!(auth.allows(Some(&basic("alice", "s3cret"))).await);
    assert!(auth.allows(Some(&basic("alice", "s3cret"))).await, "cached");
    assert!(!auth.allows(Some(&basic("alice", "wrong"))).await);
    assert!(!auth.allows(Some(&basic("bob", "s3cret"))).await);
    assert!(!auth.allows(Some("Basic !!notbase64")).await);
    assert!(!auth.allows(None).await);
    assert!(!auth.allows(Some("Bearer s3cret")).await, "no tokens set");
}

#[tokio::test]
async fn unknown_users_are_checked_against_the_costliest_hash() {
    let (cheap, dear) = (bcrypt::hash("a", 4).unwrap(), bcrypt::hash("b", 6).unwrap());
    // "aaron" sorts first: the old code checked unknown users against his cheap hash.
    let c = parse(&format!("basic_auth_users:\n  aaron: '{cheap}'\n  zoe: '{dear}'\n")).unwrap();
    let auth = c.auth.unwrap();
    assert_eq!(auth.stand_in.as_deref(), Some(dear.as_str()));
    assert!(
        !auth.allows(Some(&basic("mallory", "b"))).await,
        "an unknown user never passes"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bcrypt_runs_one_check_at_a_time_and_remembered_credentials_skip_it() {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let c = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let auth = c.auth.unwrap();
    assert!(
        auth.allows(Some(&basic("alice", "s3cret"))).await,
        "remembered from now on"
    );
    let held = BCRYPT.acquire().await.unwrap();
    // While another check runs, a remembered password still passes at once...
    assert!(auth.allows(Some(&basic("alice", "s3cret"))).await);
    // ...and a new guess waits for its turn.
    let header = basic("alice", "guess");
    let guess = auth.allows(Some(&header));
    tokio::pin!(guess);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), guess.as_mut())
            .await
            .is_err(),
        "a second bcrypt check ran beside the first"
    );
    drop(held);
    assert!(!guess.await);
}

#[tokio::test]
async fn bearer_tokens_match_their_digest() {
    let digest: String = token_digest("tok-123").iter().map(|b| format!("{b:02x}")).collect();
    let c = parse(&format!("bearer_tokens:\n  grafana: sha256:{digest}\n")).unwrap();
    let auth = c.auth.unwrap();
    assert!(auth.allows(Some("Bearer tok-123")).await);
    assert!(auth.allows(Some("bearer  tok-123 ")).await);
    assert!(!auth.allows(Some("Bearer tok-124")).await);
    assert!(!auth.allows(Some(&basic("grafana", "tok-123"))).await);
    assert!(!format!("{auth:?}").contains(&digest), "Debug hides digests");
}
