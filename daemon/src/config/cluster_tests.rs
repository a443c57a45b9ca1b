use std::path::PathBuf;

use clap::Parser;

use super::super::{Config, ConfigError, ServeArgs};
use super::*;

const THREE: &str = r#"
[cluster]
node_id = 2
secret = "cluster-secret-0123456789"

[[cluster.nodes]]
id = 1
server = "127.0.0.1:9001"
udp = "127.0.0.1:7001"

[[cluster.nodes]]
id = 2
server = "127.0.0.1:9002 weight=2"
udp = "127.0.0.1:7002"

[[cluster.nodes]]
id = 3
server = "[::1]:9003 down"
udp = "[::1]:7003"
"#;

fn three() -> Config {
    Config::from_toml(THREE).unwrap()
}

fn cluster_rule(c: &Config) -> String {
    match c.validate() {
        Err(ConfigError::Invalid {
            field: "cluster",
            rule,
        }) => rule,
        other => panic!("expected a cluster rule, got {other:?}"),
    }
}

#[test]
fn a_cluster_section_parses_with_defaults() {
    let c = three();
    c.validate().unwrap();
    let cl = c.cluster.as_ref().unwrap();
    assert_eq!(cl.datagram_bytes, 1400);
    assert_eq!(cl.flush_delay_us, 200);
    assert_eq!((cl.heartbeat_ms, cl.heartbeat_misses), (500, 3));
    assert_eq!(cl.broadcast, None);
    assert_eq!(
        cl.this_node().unwrap().udp,
        "127.0.0.1:7002".parse().unwrap()
    );
    assert_eq!(cl.bind_address(), Some("127.0.0.1:7002".parse().unwrap()));
    let ring = cl.ring().unwrap();
    assert_eq!(ring.point_count(), 640);
    assert!(ring.servers()[2].down);
    // Users of the down node go elsewhere.
    assert!((1..1000).all(|u| ring.owner_of_uid(u) != Some(2)));
    assert_eq!(
        c.cluster_secret().unwrap().unwrap(),
        b"cluster-secret-0123456789"
    );
    assert_eq!(Config::default().cluster_secret().unwrap(), None);
}

#[test]
fn broken_clusters_are_refused_with_the_reason() {
    type Break = fn(&mut ClusterConfig);
    let cases: &[(&str, Break)] = &[
        ("`nodes` is empty", |c| c.nodes.clear()),
        ("node_id 9 is not one of the nodes (1, 2, 3)", |c| {
            c.node_id = Some(9)
        }),
        ("`node_id` is missing", |c| c.node_id = None),
        ("node id 1 is listed twice", |c| c.nodes[1].id = 1),
        ("id must be from 1", |c| c.nodes[0].id = 0),
        ("share the udp address 127.0.0.1:7001", |c| {
            c.nodes[1].udp = c.nodes[0].udp
        }),
        ("not an address peers can send to", |c| {
            c.nodes[0].udp = "0.0.0.0:7001".parse().unwrap()
        }),
        ("`127.0.0.1:9001` is listed twice", |c| {
            c.nodes[1].server = "127.0.0.1:9001".into()
        }),
        ("unsupported parameter `max_conns=3`", |c| {
            c.nodes[0].server = "127.0.0.1:9001 max_conns=3".into()
        }),
        ("empty server entry", |c| c.nodes[0].server = " ".into()),
        ("datagram_bytes must be from 512", |c| {
            c.datagram_bytes = 100
        }),
        ("datagram_bytes must be from 512", |c| {
            c.datagram_bytes = 70_000
        }),
        ("flush_delay_us must be at most", |c| {
            c.flush_delay_us = 10_001
        }),
        ("heartbeat_ms must be from 50 to 60000, got 10", |c| {
            c.heartbeat_ms = 10
        }),
        ("heartbeat_misses must be from 1 to 100, got 0", |c| {
            c.heartbeat_misses = 0
        }),
        ("must be an IPv4 broadcast address", |c| {
            c.broadcast = Some("[::1]:7000".parse().unwrap())
        }),
        ("at least 16 bytes, got 5", |c| {
            c.secret = Some("short".into())
        }),
        ("no cluster secret", |c| c.secret = None),
    ];
    for &(want, break_it) in cases {
        let mut c = three();
        break_it(c.cluster.as_mut().unwrap());
        let rule = cluster_rule(&c);
        assert!(rule.contains(want), "want `{want}`, got `{rule}`");
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.starts_with("config field `cluster`: "), "{msg}");
    }
}

#[test]
fn the_secret_comes_from_flag_field_file_or_top_level() {
    let dir = std::env::temp_dir().join(format!("imedge-cluster-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cluster.secret");
    std::fs::write(&file, "  from-the-file-0123456789\n").unwrap();

    let mut c = three();
    let cl = c.cluster.as_mut().unwrap();
    cl.secret = None;
    cl.secret_file = Some(file.clone());
    assert_eq!(
        c.cluster_secret().unwrap().unwrap(),
        b"from-the-file-0123456789"
    );
    c.cluster.as_mut().unwrap().secret_file = Some(dir.join("missing"));
    assert!(matches!(
        c.validate(),
        Err(ConfigError::SecretFile { path, .. }) if path.ends_with("missing")
    ));
    c.cluster.as_mut().unwrap().secret_file = None;
    c.secret = Some("the-node-secret-0123".into());
    assert_eq!(
        c.cluster_secret().unwrap().unwrap(),
        b"the-node-secret-0123"
    );

    // The flag (or IMEDGE_CLUSTER_SECRET) and --node-id override the file.
    let toml = dir.join("imedge.toml");
    std::fs::write(&toml, THREE).unwrap();
    let args = ServeArgs {
        config: Some(toml.clone()),
        node_id: Some(3),
        cluster_secret: Some("from-the-flag-0123456".into()),
        ..ServeArgs::default()
    };
    let c = Config::load(&args).unwrap();
    let cl = c.cluster.as_ref().unwrap();
    assert_eq!(cl.node_id, Some(3));
    assert_eq!(
        c.cluster_secret().unwrap().unwrap(),
        b"from-the-flag-0123456"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[test]
fn node_id_without_a_cluster_is_an_error() {
    let args = Cli::try_parse_from(["imedge", "--node-id", "1"])
        .unwrap()
        .serve;
    let e = Config::load(&args).unwrap_err().to_string();
    assert!(e.contains("--node-id needs a [cluster] section"), "{e}");
    let cmd = <Cli as clap::CommandFactory>::command();
    let arg = cmd
        .get_arguments()
        .find(|a| a.get_id() == "cluster_secret")
        .unwrap();
    assert_eq!(
        arg.get_env(),
        Some(std::ffi::OsStr::new(CLUSTER_SECRET_ENV))
    );
    assert!(arg.is_hide_env_values_set());
}

#[test]
fn unknown_cluster_fields_are_rejected() {
    let e = Config::from_toml("[cluster]\nnode = 1\nnodes = []\n").unwrap_err();
    assert!(e.to_string().contains("node"), "{e}");
    let e = Config::from_toml(
        "[cluster]\nnodes = [{ id = 1, server = \"a:1\", udp = \"127.0.0.1:1\", port = 2 }]\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("port"), "{e}");
}

/// The commented example in imedge.example.toml, uncommented, is a valid
/// cluster (so the operators' copy cannot rot).
#[test]
fn the_example_cluster_section_is_valid() {
    let text = include_str!("../../../imedge.example.toml");
    let (top, section) = text
        .split_once("# ---- cluster")
        .expect("imedge.example.toml has a `# ---- cluster` part");
    let mut toml = top.to_owned();
    for line in section.lines() {
        let Some(setting) = line.strip_prefix("# ") else {
            continue;
        };
        let key = setting.split(" = ").next().unwrap_or("");
        let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if setting.starts_with('[') || (is_key && setting.contains(" = ")) {
            toml.push_str(setting);
            toml.push('\n');
        }
    }
    let mut c = Config::from_toml(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let cl = c.cluster.as_mut().expect("the example has a [cluster]");
    assert_eq!(cl.nodes.len(), 3);
    assert_eq!(
        cl.secret_file,
        Some(PathBuf::from("/etc/imedge/cluster.secret"))
    );
    assert_eq!(cl.datagram_bytes, DEFAULT_DATAGRAM_BYTES);
    assert_eq!(cl.flush_delay_us, 200);
    // The file does not exist here; the secret is the only thing swapped.
    cl.secret = Some("example-secret-0123456".into());
    c.validate().unwrap();
}
