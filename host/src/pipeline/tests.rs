//! Pipeline parsing and validation (the parts that need no plugin library).

use super::*;

fn load(text: &str) -> Result<Pipeline, PipelineErrors> {
    let source = PipelineSource {
        plugin_dirs: vec![std::env::temp_dir().join("netan-no-plugins-here")],
        ..Default::default()
    };
    Pipeline::from_text("p.toml", text, false, &source)
}

fn first_error(text: &str) -> PipelineError {
    load(text)
        .expect_err("refused")
        .0
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn an_empty_pipeline_is_the_tcp_listener_alone_with_defaults() {
    let p = load("").unwrap();
    assert!(p.entries.is_empty());
    assert_eq!(p.tcp, TcpConfig::default());
    assert_eq!(p.monologue_part_size, 1 << 20);
}

#[test]
fn tcp_settings_are_read() {
    let p = load("[tcp]\nmax_session_size = 5000\nidle_timeout = 60\nclose_linger = 0.5\nmonologue_part_size = 65536\n").unwrap();
    assert_eq!(p.tcp.max_session_size, 5000);
    assert_eq!(p.tcp.idle_timeout_ns, 60_000_000_000);
    assert_eq!(p.tcp.close_linger_ns, 500_000_000);
    assert_eq!(p.monologue_part_size, 65536);
}

#[test]
fn unknown_keys_are_located_by_line_and_column() {
    let e = first_error("[tcp]\nmax_session_size = 1\n  idle_timout = 5\n");
    assert_eq!(e.location, "p.toml:3:3");
    assert!(e.message.contains("unknown field `idle_timout`"), "{e}");
}

#[test]
fn wrong_types_are_located() {
    let e = first_error("[tcp]\nmax_sessions = \"many\"\n");
    assert_eq!(e.location, "p.toml:2:16");
    assert!(e.message.contains("invalid type"), "{e}");
}

#[test]
fn the_tcp_listener_cannot_be_put_in_the_plugin_list() {
    let e = first_error("[[plugin]]\nname = \"tcp\"\n\n[[plugin]]\nname = \"http\"\n");
    assert_eq!(e.location, "p.toml:2:8");
    assert!(e.message.contains("always runs first"), "{e}");
}

#[test]
fn the_tcp_listener_cannot_be_disabled_or_moved() {
    let e = first_error("[tcp]\nenabled = false\n");
    assert_eq!(e.location, "p.toml:2:11");
    assert!(e.message.contains("cannot be removed"), "{e}");
    let e = first_error("[[plugin]]\nname = \"http\"\nposition = \"first\"\n");
    assert!(
        e.message
            .contains("only the built-in TCP listener runs first"),
        "{e}"
    );
}

#[test]
fn unknown_plugins_are_located_at_their_name() {
    let e = first_error("\n[[plugin]]\nname = \"nosuch\"\n");
    assert_eq!(e.location, "p.toml:3:8");
    assert!(e.message.contains("no plugin named `nosuch`"), "{e}");
}

#[test]
fn bad_values_are_refused() {
    let e = first_error("[tcp]\nidle_timeout = -1\n");
    assert!(e.message.contains("idle_timeout"), "{e}");
    let e = first_error("[plugins]\non_error = \"explode\"\n");
    assert!(e.message.contains("unknown variant"), "{e}");
    let e = first_error("[[plugin]]\nname = \"x\"\nports = []\n");
    assert!(e.message.contains("`ports = []` names no port"), "{e}");
    assert_eq!(e.location, "p.toml:2:8");
    let e = first_error("[[plugin]]\nname = \"x\"\nevents = []\n");
    assert!(e.message.contains("`events = []` names no event"), "{e}");
    let e = first_error("[tcp]\nverbosity = 200\n");
    assert_eq!(e.location, "p.toml:2:13");
    assert!(e.message.contains("0 to 7"), "{e}");
}

#[test]
fn load_specs_parse_like_the_original_command_line() {
    let s = LoadSpec::parse("smtp,ports=25+587,max_line=2000,extract,name=x y").unwrap();
    assert_eq!(s.name, "smtp");
    assert_eq!(s.ports, Some(vec![25, 587]));
    assert_eq!(s.config.get("max_line"), Some(&toml::Value::Integer(2000)));
    assert_eq!(s.config.get("extract"), Some(&toml::Value::Boolean(true)));
    assert_eq!(
        s.config.get("name"),
        Some(&toml::Value::String("x y".into()))
    );
    assert!(LoadSpec::parse(",ports=1").is_err());
    assert!(LoadSpec::parse("http,ports=80+eighty").is_err());
}

#[test]
fn filters_match_ports_and_networks_on_either_side() {
    let a: IpAddr = "10.1.2.3".parse().unwrap();
    let b: IpAddr = "192.168.0.9".parse().unwrap();
    let f = Filter {
        ports: vec![25],
        networks: vec![],
    };
    assert!(f.matches((a, 40000), (b, 25)));
    assert!(!f.matches((a, 40000), (b, 80)));
    let f = Filter {
        ports: vec![],
        networks: vec![parse_network("10.0.0.0/8").unwrap()],
    };
    assert!(f.matches((b, 1), (a, 2)));
    assert!(!f.matches((b, 1), (b, 2)));
    let v6 = Filter {
        ports: vec![],
        networks: vec![parse_network("2001:db8::/32").unwrap()],
    };
    assert!(v6.matches(("2001:db8::1".parse().unwrap(), 1), (a, 2)));
    assert!(parse_network("10.0.0.0/33").is_err());
    assert!(Filter::default().matches((a, 1), (b, 2)));
}

#[test]
fn line_and_column_count_from_one() {
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
}

#[test]
fn the_embedded_default_pipeline_is_valid() {
    let source = PipelineSource {
        plugin_dirs: vec![std::env::temp_dir().join("netan-no-plugins-here")],
        ..Default::default()
    };
    // With no plugin found, it is the TCP listener alone (missing bundled plugins are skipped).
    let p = Pipeline::from_text("default", DEFAULT_PIPELINE, true, &source).unwrap();
    assert!(p
        .entries
        .iter()
        .all(|e| BUNDLED.contains(&e.plugin.info.name.as_str())));
}

#[test]
fn the_input_selection_is_read_and_a_bad_address_located() {
    let p = load("[input]\nports = [25, 587]\naddresses = [\"10.0.0.0/8\", \"2001:db8::1\"]\n")
        .unwrap();
    assert_eq!(p.select.ports, vec![25, 587]);
    assert_eq!(p.select.networks.len(), 2);
    assert!(p.select.matches(
        ("10.1.2.3".parse().unwrap(), 40000),
        ("192.0.2.1".parse().unwrap(), 25)
    ));
    assert!(!p.select.matches(
        ("10.1.2.3".parse().unwrap(), 40000),
        ("192.0.2.1".parse().unwrap(), 80)
    ));
    assert!(
        p.describe().contains("input: sessions on ports 25,587"),
        "{}",
        p.describe()
    );
    assert!(load("").unwrap().select.is_any());
    let e = first_error("[input]\naddresses = [\"10.0.0.0/8\", \"10.0.0.0/99\"]\n");
    assert_eq!(e.location, "p.toml:2:28");
    assert!(e.message.contains("bad prefix length"), "{e}");
}

#[test]
fn the_command_lines_selection_is_parsed_with_plus_or_comma() {
    let f = Filter::parse(Some("80+8080, 443"), Some("192.168.1.0/24")).unwrap();
    assert_eq!(f.ports, vec![80, 8080, 443]);
    assert_eq!(f.networks.len(), 1);
    assert!(Filter::parse(None, None).unwrap().is_any());
    assert!(Filter::parse(Some("http"), None)
        .unwrap_err()
        .contains("port `http`"));
    assert!(Filter::parse(None, Some("300.1.1.1")).is_err());
    // An empty list is a mistake, not "any".
    assert!(Filter::parse(Some(""), None).is_err());
    assert!(Filter::parse(None, Some(" + ")).is_err());
}

#[test]
fn a_list_with_an_empty_item_is_a_typo_not_a_shorter_list() {
    for text in ["80+", "+80", "80,,25", "80 + "] {
        let e = Filter::parse(Some(text), None).unwrap_err();
        assert!(e.contains("empty item"), "{text}: {e}");
    }
    assert!(Filter::parse(None, Some("10.0.0.0/8+"))
        .unwrap_err()
        .contains("empty item"));
    let e = LoadSpec::parse("http,ports=80+").unwrap_err();
    assert!(e.to_string().contains("empty item"), "{e}");
}

#[test]
fn empty_selection_lists_are_refused_where_they_are() {
    let e = first_error("[input]\ntunnels = true\nports = []\n");
    assert_eq!(e.location, "p.toml:3:9");
    assert!(e.message.contains("`ports = []` names no port"), "{e}");
    let e = first_error("[input]\naddresses = []\n");
    assert_eq!(e.location, "p.toml:2:13");
    assert!(
        e.message.contains("`addresses = []` names no address"),
        "{e}"
    );
    let e = first_error("[[plugin]]\nname = \"http\"\naddresses = []\n");
    assert_eq!(e.location, "p.toml:2:8");
    assert!(e.message.contains("`addresses = []`"), "{e}");
}

#[test]
fn any_and_ports_together_are_refused() {
    let e = first_error("[[plugin]]\nname = \"smtp\"\nany = true\nports = [25]\n");
    assert_eq!(e.location, "p.toml:2:8");
    assert!(e.message.contains("`any = true` and `ports`"), "{e}");
}

#[test]
fn an_entry_without_name_or_path_is_located_at_its_header() {
    let e = first_error("[tcp]\nverbosity = 0\n\n  [[plugin]]\nlabel = \"x\"\n");
    assert_eq!(e.location, "p.toml:4:3");
    assert!(e.message.contains("needs `name` or `path`"), "{e}");
}

#[test]
fn a_plugin_directory_that_is_not_there_is_an_error() {
    let e = first_error("[plugins]\ndirs = [\"no-such-plugin-dir-here\"]\n");
    assert_eq!(e.location, "p.toml:2:9");
    assert!(e.message.contains("no such directory"), "{e}");
    let e = first_error("[plugins]\ndirs = [\"\"]\n");
    assert!(e.message.contains("an empty path"), "{e}");
}

#[test]
fn a_quick_form_names_one_entry_by_label_or_by_its_only_plugin() {
    let text = "[[plugin]]\nname = \"http\"\nlabel = \"web-a\"\n\n[[plugin]]\nname = \"http\"\nlabel = \"Web-B\"\n";
    let source = |spec: &str| PipelineSource {
        plugin_dirs: vec![std::env::temp_dir().join("netan-no-plugins-here")],
        specs: vec![LoadSpec::parse(spec).unwrap()],
        ..Default::default()
    };
    let errors = Pipeline::from_text("p.toml", text, false, &source("http,ports=9999"))
        .expect_err("ambiguous")
        .0;
    let e = errors
        .iter()
        .find(|e| e.location.starts_with("command line"))
        .expect("the -l is refused");
    assert!(
        e.message
            .contains("2 entries of plugin `http` (web-a, Web-B)"),
        "{e}"
    );
    // By label it is clear. (Without the plugin library next to the test binary the load
    // fails, but not because of the -l.)
    match Pipeline::from_text("p.toml", text, false, &source("Web-B,ports=9999")) {
        Ok(p) => {
            let ports: Vec<(&str, &[u16])> = p
                .entries
                .iter()
                .map(|e| (e.label.as_str(), e.filter.ports.as_slice()))
                .collect();
            assert_eq!(ports, vec![("web-a", &[][..]), ("Web-B", &[9999][..])]);
        }
        Err(errors) => assert!(
            errors
                .0
                .iter()
                .all(|e| !e.location.starts_with("command line")),
            "{errors:?}"
        ),
    }
}

#[test]
fn a_key_named_in_a_comment_is_not_where_the_key_is() {
    let region =
        "[plugin.config]\n# max_head = 10 was too small\nheaders = \"all\"\nmax_head = \"x\"\n";
    let at = find_key(region, "max_head").unwrap();
    assert_eq!(line_col(region, at), (4, 1));
}

#[test]
fn counts_of_zero_and_part_sizes_beyond_32_bits_are_refused() {
    let e = first_error("[tcp]\nmax_sessions = 0\n");
    assert_eq!(e.location, "p.toml:2:16");
    assert!(e.message.contains("at least 1"), "{e}");
    let e = first_error("[tcp]\nmonologue_part_size = 4294967296\n");
    assert!(e.message.contains("from 1 to 4294967295"), "{e}");
}

#[test]
fn a_list_cut_by_a_comma_in_a_quick_form_is_explained() {
    let e = LoadSpec::parse("http,ports=80,8080").unwrap_err();
    assert!(e.message.contains("`8080` is not a key"), "{e}");
    assert!(e.message.contains("ports=80+8080"), "{e}");
    let e = LoadSpec::parse("http,addresses=10.0.0.0/8,192.168.0.0/16").unwrap_err();
    assert!(e.message.contains("`192.168.0.0/16` is not a key"), "{e}");
    // A real flag still reads as `true`.
    assert!(LoadSpec::parse("http,decode_bodies").is_ok());
}

#[test]
fn an_output_directory_that_is_a_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let e = first_error(&format!(
        "[output]\ndir = {:?}\n",
        file.display().to_string()
    ));
    assert_eq!(e.location, "p.toml:2:7");
    assert!(e.message.contains("exists and is not a directory"), "{e}");
}

#[test]
fn an_ipv4_mapped_network_is_the_ipv4_network_and_spaces_are_explained() {
    let f = Filter::parse(None, Some("::ffff:172.30.3.0/120")).unwrap();
    assert_eq!(f.networks, vec![("172.30.3.0".parse().unwrap(), 24)]);
    assert!(f.matches(
        ("172.30.3.6".parse().unwrap(), 80),
        ("10.0.0.1".parse().unwrap(), 40000)
    ));
    let e = Filter::parse(None, Some("10.0.0.0/8 10.1.0.0/16")).unwrap_err();
    assert!(e.contains("not spaces"), "{e}");
}

#[test]
fn a_byte_order_mark_is_not_a_column() {
    let e = first_error("\u{feff}[tcp]\nmax_sessions = 0\n");
    assert_eq!(e.location, "p.toml:2:16");
    let e = first_error("\u{feff}bogus = 1\n");
    assert_eq!(e.location, "p.toml:1:1");
}

#[test]
fn a_quick_form_reaches_an_unlabelled_entry_and_refuses_a_label_that_is_a_plugin() {
    let source = |spec: &str| PipelineSource {
        plugin_dirs: vec![std::env::temp_dir().join("netan-no-plugins-here")],
        specs: vec![LoadSpec::parse(spec).unwrap()],
        ..Default::default()
    };
    let cmd_errors = |text: &str, spec: &str| -> Vec<String> {
        match Pipeline::from_text("p.toml", text, false, &source(spec)) {
            Ok(_) => Vec::new(),
            Err(e) => {
                e.0.into_iter()
                    .filter(|e| e.location.starts_with("command line"))
                    .map(|e| e.message)
                    .collect()
            }
        }
    };
    // The unlabelled entry's label is its plugin's name.
    let two = "[[plugin]]\nname = \"http\"\n\n[[plugin]]\nname = \"http\"\nlabel = \"h2\"\n";
    assert_eq!(cmd_errors(two, "http,max_head=1000"), Vec::<String>::new());
    // A label that is another entry's plugin.
    let crossed = "[[plugin]]\nname = \"http\"\nlabel = \"smtp\"\n\n[[plugin]]\nname = \"smtp\"\nlabel = \"mail\"\n";
    let errors = cmd_errors(crossed, "smtp,max_line=2000");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("the label of one entry and the plugin of another"));
}

#[test]
fn spaces_around_a_prefix_slash_and_hashes_in_strings_are_not_mistakes() {
    let f = Filter::parse(None, Some("10.0.0.0 / 8")).unwrap();
    assert_eq!(f.networks, vec![("10.0.0.0".parse().unwrap(), 8)]);
    let region = "config = { url = \"http://x/#a\", max_head = 0 }\n";
    let at = find_key(region, "max_head").unwrap();
    assert_eq!(region.get(at..at + 8), Some("max_head"));
    let region = "# max_head = 1\nmax_head = 2\n";
    assert_eq!(find_key(region, "max_head"), Some(15));
}
