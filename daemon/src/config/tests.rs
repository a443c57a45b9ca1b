use std::fs;
use std::os::unix::fs::PermissionsExt;

use clap::{CommandFactory, Parser};

use super::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn args(flags: &[&str]) -> ServeArgs {
    Cli::try_parse_from(std::iter::once("imedge").chain(flags.iter().copied()))
        .unwrap_or_else(|e| panic!("{flags:?}: {e}"))
        .serve
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("imedge-{name}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn invalid_field(config: &Config) -> &'static str {
    match config.validate() {
        Err(ConfigError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(c.threads, 0);
    assert_eq!(c.secret, None);
    assert_eq!(c.data_dir, PathBuf::from("imedge-data"));
    assert_eq!(
        c.store_spec().unwrap(),
        StoreSpec::Sqlite(PathBuf::from("imedge-data").join("imedge.db"))
    );
    assert_eq!(c.fsync, FsyncPolicy::Normal);
    assert_eq!((c.retention_messages, c.retention_days), (1000, 30));
    assert_eq!(c.max_message_bytes, 65536);
    assert_eq!(c.handshake_timeout(), Duration::from_secs(10));
    assert_eq!(c.ping_interval(), Duration::from_secs(30));
    assert_eq!(c.idle_timeout(), Duration::from_secs(75));
    assert_eq!(c.max_connections, 19000);
    assert!(c.allowed_origins.is_empty());
    assert_eq!((c.rate_limit, c.rate_burst), (200, 400));
    assert_eq!(c.outbound_queue_bytes, 4 << 20);
    assert_eq!(c.drain_timeout(), Duration::from_secs(10));
    assert_eq!(c.log, "info");
    c.validate().unwrap();
    assert_eq!(Config::from_toml("").unwrap(), c);
}

#[test]
fn load_without_file_or_flags_is_the_default() {
    assert_eq!(
        Config::load(&ServeArgs::default()).unwrap(),
        Config::default()
    );
}

#[test]
fn file_parsing() {
    let c = Config::from_toml(
        r#"
listen = "127.0.0.1:9000"
threads = 2
secret = "0123456789abcdef0123"
data_dir = "/var/lib/imedge"
store = "sqlite:/var/lib/imedge/im.db"
fsync = "full"
retention_messages = 50
retention_days = 0
max_message_bytes = 4096
handshake_timeout_ms = 5000
ping_interval_ms = 20000
idle_timeout_ms = 50000
max_connections = 100
allowed_origins = ["https://im.example.com", "http://localhost:8080"]
rate_limit = 10
rate_burst = 20
outbound_queue_bytes = 65536
drain_timeout_ms = 0
log = "imedge=debug,info"
"#,
    )
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(c.threads(), 2);
    assert_eq!(c.resolve_secret().unwrap(), b"0123456789abcdef0123");
    assert_eq!(
        c.store_spec().unwrap(),
        StoreSpec::Sqlite("/var/lib/imedge/im.db".into())
    );
    assert_eq!(c.fsync, FsyncPolicy::Full);
    assert_eq!((c.retention_messages, c.retention_days), (50, 0));
    assert_eq!(
        c.allowed_origins,
        ["https://im.example.com", "http://localhost:8080"]
    );
    assert_eq!(
        (c.rate_limit, c.rate_burst, c.outbound_queue_bytes),
        (10, 20, 65536)
    );
    assert_eq!(c.drain_timeout(), Duration::ZERO);
    c.validate().unwrap();
}

#[test]
fn unknown_field_is_rejected() {
    let e = Config::from_toml("listn = \"0.0.0.0:1\"\n").unwrap_err();
    assert!(e.to_string().contains("listn"), "{e}");
}

#[test]
fn wrong_type_is_rejected() {
    for text in [
        "threads = \"four\"",
        "listen = \"localhost\"",
        "allowed_origins = \"https://a\"",
    ] {
        assert!(Config::from_toml(text).is_err(), "{text}");
    }
}

#[test]
fn file_errors_name_the_file() {
    let dir = TempDir::new("config-file-errors");
    let missing = dir.0.join("missing.toml");
    let e = Config::load(&args(&["--config", missing.to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e.to_string().contains("missing.toml"), "{e}");

    let bad = dir.0.join("bad.toml");
    fs::write(&bad, "threads = 1\nbogus = true\n").unwrap();
    let e = Config::load(&args(&["--config", bad.to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }));
    let msg = e.to_string();
    assert!(msg.contains("bad.toml") && msg.contains("bogus"), "{msg}");
}

#[test]
fn flags_override_the_file() {
    let dir = TempDir::new("config-override");
    let file = dir.0.join("imedge.toml");
    fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nthreads = 2\nrate_limit = 10\nallowed_origins = [\"https://a.example\"]\n",
    )
    .unwrap();
    let c = Config::load(&args(&[
        "--config",
        file.to_str().unwrap(),
        "--threads",
        "3",
        "--allowed-origins",
        "https://b.example,http://c.example:81",
    ]))
    .unwrap();
    assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap()); // file
    assert_eq!(c.rate_limit, 10); // file
    assert_eq!(c.threads, 3); // flag
    assert_eq!(
        c.allowed_origins,
        ["https://b.example", "http://c.example:81"]
    ); // flag
    assert_eq!(c.max_connections, 19000); // default

    let c = Config::load(&args(&[
        "--config",
        file.to_str().unwrap(),
        "--allowed-origins",
        "",
    ]))
    .unwrap();
    assert!(
        c.allowed_origins.is_empty(),
        "an empty flag clears the file's list"
    );
}

#[test]
fn every_flag_sets_its_field() {
    let a = args(&[
        "--listen=127.0.0.1:1",
        "--threads=5",
        "--secret=sixteen-bytes-xx",
        "--data-dir=some/dir",
        "--store=redis://r:6379/1",
        "--fsync=off",
        "--retention-messages=11",
        "--retention-days=12",
        "--max-message-bytes=2048",
        "--handshake-timeout-ms=1",
        "--ping-interval-ms=2",
        "--idle-timeout-ms=3",
        "--max-connections=4",
        "--allowed-origins=https://a",
        "--rate-limit=6",
        "--rate-burst=7",
        "--outbound-queue-bytes=8192",
        "--gather-above=10",
        "--drain-timeout-ms=9",
        "--log=debug",
        "--check-config",
    ]);
    assert!(a.check_config);
    let c = Config::load(&a).unwrap();
    let want = Config {
        listen: "127.0.0.1:1".parse().unwrap(),
        threads: 5,
        secret: Some("sixteen-bytes-xx".into()),
        data_dir: "some/dir".into(),
        store: "redis://r:6379/1".into(),
        fsync: FsyncPolicy::Off,
        retention_messages: 11,
        retention_days: 12,
        max_message_bytes: 2048,
        handshake_timeout_ms: 1,
        ping_interval_ms: 2,
        idle_timeout_ms: 3,
        max_connections: 4,
        allowed_origins: vec!["https://a".into()],
        rate_limit: 6,
        rate_burst: 7,
        outbound_queue_bytes: 8192,
        gather_above: 10,
        drain_timeout_ms: 9,
        log: "debug".into(),
        cluster: None,
    };
    assert_eq!(c, want);
    assert_eq!(
        c.store_spec().unwrap(),
        StoreSpec::Redis("redis://r:6379/1".into())
    );
}

#[test]
fn secret_flag_reads_the_environment_and_hides_it() {
    let cmd = Cli::command();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == "secret")
        .unwrap();
    assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new("IMEDGE_SECRET")));
    assert!(arg.is_hide_env_values_set());
    let c = Config {
        secret: Some("do-not-print-me-please".into()),
        ..Config::default()
    };
    assert!(!format!("{c:?}").contains("do-not-print-me"));
}

#[test]
fn bad_flag_values_fail_to_parse() {
    for flags in [
        &["--listen", "nowhere"][..],
        &["--threads", "-1"],
        &["--rate-limit", "x"],
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("imedge").chain(flags.iter().copied())).is_err()
        );
    }
}

#[test]
fn load_validates() {
    let e = Config::load(&args(&["--ping-interval-ms", "80000"])).unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Invalid {
            field: "idle_timeout_ms",
            ..
        }
    ));
    let msg = e.to_string();
    assert!(
        msg.contains("idle_timeout_ms") && msg.contains("ping_interval_ms"),
        "{msg}"
    );
}

#[test]
fn validation_rules() {
    type Break = fn(&mut Config);
    let cases: &[(&str, Break)] = &[
        ("threads", |c| c.threads = 5000),
        ("secret", |c| c.secret = Some("short".into())),
        ("data_dir", |c| c.data_dir = PathBuf::new()),
        ("store", |c| c.store = "mysql://x".into()),
        ("store", |c| c.store = "redis://".into()),
        ("store", |c| c.store = "sqlite:".into()),
        ("retention_messages", |c| c.retention_messages = 0),
        ("retention_messages", |c| c.retention_messages = 10_000_001),
        ("retention_days", |c| c.retention_days = 36_501),
        ("max_message_bytes", |c| c.max_message_bytes = 100),
        ("max_message_bytes", |c| c.max_message_bytes = 65 << 20),
        ("handshake_timeout_ms", |c| c.handshake_timeout_ms = 0),
        ("ping_interval_ms", |c| c.ping_interval_ms = 0),
        ("idle_timeout_ms", |c| c.idle_timeout_ms = 30_000),
        ("max_connections", |c| c.max_connections = 0),
        ("allowed_origins", |c| {
            c.allowed_origins = vec!["https://a.example/".into()]
        }),
        ("allowed_origins", |c| {
            c.allowed_origins = vec!["a.example".into()]
        }),
        ("rate_limit", |c| c.rate_limit = 0),
        ("rate_burst", |c| c.rate_burst = 0),
        ("outbound_queue_bytes", |c| c.outbound_queue_bytes = 100_000),
        ("log", |c| c.log = "imedge=loud".into()),
    ];
    for &(field, break_it) in cases {
        let mut c = Config::default();
        break_it(&mut c);
        assert_eq!(invalid_field(&c), field);
        let msg = c.validate().unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("config field `{field}`: ")),
            "{msg}"
        );
    }
}

#[test]
fn boundary_values_are_valid() {
    let c = Config {
        threads: 1024,
        secret: Some("0123456789abcdef".into()),
        max_message_bytes: 1024,
        idle_timeout_ms: 30_001,
        outbound_queue_bytes: 2048,
        rate_limit: 1,
        rate_burst: 1,
        drain_timeout_ms: 0,
        ..Config::default()
    };
    c.validate().unwrap();
}

#[test]
fn threads_zero_means_every_core() {
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(Config::default().threads(), cores);
    assert_eq!(
        Config {
            threads: 3,
            ..Config::default()
        }
        .threads(),
        3
    );
}

#[test]
fn secret_is_generated_once_and_reused() {
    let dir = TempDir::new("config-secret");
    let c = Config {
        data_dir: dir.0.join("nested/data"),
        ..Config::default()
    };
    let first = c.resolve_secret().unwrap();
    assert_eq!(first.len(), 64);
    assert!(first.iter().all(|b| b.is_ascii_hexdigit()));

    let path = c.data_dir.join("secret");
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(fs::read(&path).unwrap(), [&first[..], b"\n"].concat());
    let leftovers: Vec<_> = fs::read_dir(&c.data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["secret"]);

    assert_eq!(
        c.resolve_secret().unwrap(),
        first,
        "reused on the next start"
    );

    let other = TempDir::new("config-secret-other");
    let c2 = Config {
        data_dir: other.0.clone(),
        ..Config::default()
    };
    assert_ne!(c2.resolve_secret().unwrap(), first, "random per data dir");
}

#[test]
fn given_secret_wins_and_writes_nothing() {
    let dir = TempDir::new("config-secret-given");
    let c = Config {
        data_dir: dir.0.clone(),
        secret: Some("given-secret-0123".into()),
        ..Config::default()
    };
    assert_eq!(c.resolve_secret().unwrap(), b"given-secret-0123");
    assert!(!dir.0.join("secret").exists());
}

#[test]
fn existing_secret_file_is_used_as_text() {
    let dir = TempDir::new("config-secret-existing");
    fs::write(dir.0.join("secret"), "an operator's own secret\n").unwrap();
    let c = Config {
        data_dir: dir.0.clone(),
        ..Config::default()
    };
    assert_eq!(c.resolve_secret().unwrap(), b"an operator's own secret");

    fs::write(dir.0.join("secret"), "tiny\n").unwrap();
    let e = c.resolve_secret().unwrap_err();
    assert!(matches!(e, ConfigError::SecretFile { .. }));
    assert!(e.to_string().contains("fewer than 16"), "{e}");
}

/// The operators' copy of this documentation must parse, list every field,
/// and hold the real defaults.
#[test]
fn example_file_matches_the_defaults() {
    let text = include_str!("../../../imedge.example.toml");
    assert_eq!(Config::from_toml(text).unwrap(), Config::default());
    for field in [
        "listen",
        "threads",
        "secret",
        "data_dir",
        "store",
        "fsync",
        "retention_messages",
        "retention_days",
        "max_message_bytes",
        "handshake_timeout_ms",
        "ping_interval_ms",
        "idle_timeout_ms",
        "max_connections",
        "allowed_origins",
        "rate_limit",
        "rate_burst",
        "outbound_queue_bytes",
        "gather_above",
        "drain_timeout_ms",
        "log",
    ] {
        let listed = text.lines().any(|l| {
            l.trim_start_matches("# ")
                .starts_with(&format!("{field} = "))
        });
        assert!(listed, "imedge.example.toml lacks `{field}`");
    }
}

#[test]
fn bare_sqlite_means_the_data_dir_file() {
    let c = Config {
        data_dir: "state".into(),
        ..Config::default()
    };
    assert_eq!(
        c.store_spec().unwrap(),
        StoreSpec::Sqlite(PathBuf::from("state").join("imedge.db"))
    );
    let c = Config {
        store: "memory".into(),
        ..Config::default()
    };
    assert_eq!(c.store_spec().unwrap(), StoreSpec::Memory);
}

#[test]
fn unknown_fsync_policy_is_rejected() {
    let e = Config::from_toml("fsync = \"always\"\n").unwrap_err();
    assert!(
        e.to_string().contains("fsync") || e.to_string().contains("full"),
        "{e}"
    );
    assert!(Cli::try_parse_from(["imedge", "--fsync", "sometimes"]).is_err());
}
