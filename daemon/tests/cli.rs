//! The command line: `serve --check-config`, `token`, and the secret kept in
//! the data directory when none is given.

mod common;

use std::process::Command;

fn imedge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_imedge"))
        .args(args)
        .env_remove("IMEDGE_SECRET")
        .output()
        .unwrap()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("imedge-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn check_config_accepts_a_good_file_and_names_the_field_of_a_bad_one() {
    let dir = temp_dir("check");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:9000\"\nmax_message_bytes = 4096\n",
    )
    .unwrap();
    let out = imedge(&[
        "serve",
        "--config",
        good.to_str().unwrap(),
        "--check-config",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "ping_interval_ms = 80000\nidle_timeout_ms = 75000\n").unwrap();
    let out = imedge(&["serve", "--config", bad.to_str().unwrap(), "--check-config"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("idle_timeout_ms"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = imedge(&[
        "serve",
        "--config",
        good.to_str().unwrap(),
        "--max-message-bytes",
        "10",
        "--check-config",
    ]);
    assert!(
        !out.status.success(),
        "a flag overrides the file and is validated too"
    );
    let unknown = dir.join("unknown.toml");
    std::fs::write(&unknown, "no_such_field = 1\n").unwrap();
    let out = imedge(&[
        "serve",
        "--config",
        unknown.to_str().unwrap(),
        "--check-config",
    ]);
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_generated_secret_is_kept_and_tokens_minted_from_it_verify() {
    let dir = temp_dir("secret");
    let data = dir.to_str().unwrap();
    let out = imedge(&["token", "--uid", "42", "--ttl", "60", "--data-dir", data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let secret = std::fs::read_to_string(dir.join("secret")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    imedge::auth::verify(secret.trim().as_bytes(), &token, 42, now)
        .expect("token verifies with the kept secret");
    assert!(imedge::auth::verify(secret.trim().as_bytes(), &token, 43, now).is_err());
    // A second run reuses the same secret.
    let again = imedge(&["token", "--uid", "42", "--data-dir", data]);
    let token2 = String::from_utf8(again.stdout).unwrap();
    imedge::auth::verify(secret.trim().as_bytes(), token2.trim(), 42, now).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("secret")).unwrap(), secret);
    let _ = std::fs::remove_dir_all(&dir);
}
