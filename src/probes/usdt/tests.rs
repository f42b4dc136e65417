//! The usdt provider against the fixture catalogue: attach point forms, wildcards, `-p`,
//! locations, errors and listing.

use super::*;
use crate::probes::catalogue::Fixture;
use crate::probes::list::list_in;

fn probe(provider: &str, name: &str, semaphore: u64, locs: &[(u64, &str)]) -> UsdtProbe {
    UsdtProbe {
        provider: provider.into(),
        name: name.into(),
        semaphore,
        locations: locs
            .iter()
            .map(|&(offset, args)| UsdtLocation {
                offset,
                args: args.into(),
            })
            .collect(),
    }
}

fn fixture() -> Fixture {
    Fixture::new()
        .usdt(
            "/opt/t/usdt_test",
            vec![
                probe("tracetest", "testprobe", 0, &[(0x1166, "-8@%rax 8@%rdx")]),
                probe("tracetest", "testprobe2", 0, &[(0x1170, "-8@%rax 8@%rdx")]),
                probe("tracetest2", "testprobe2", 0, &[(0x1180, "-8@%rax")]),
            ],
        )
        .usdt(
            "/opt/t/usdt_multi",
            vec![probe(
                "tracetest",
                "testprobe",
                0x3028,
                &[(0x2000, "-4@%edi"), (0x2040, "8@-8(%rbp)")],
            )],
        )
        .usdt(
            "/opt/lib/libtp.so",
            vec![probe("tracetestlib", "lib_probe_1", 0, &[(0x112d, "")])],
        )
        .usdt(
            "/opt/t/quoted",
            vec![probe("test", "\"probe1\"", 0, &[(0x1125, "-4@-4(%rbp)")])],
        )
        .process(
            42,
            &[
                "/proc/42/root/opt/t/usdt_test",
                "/proc/42/root/opt/lib/libtp.so",
            ],
        )
}

/// `(path, provider:name, location)` of each attach point.
fn names(attaches: &[Attach]) -> Vec<(String, String, u32)> {
    attaches
        .iter()
        .map(|a| match a {
            Attach::Usdt {
                path,
                provider,
                name,
                loc,
                ..
            } => (path.clone(), format!("{provider}:{name}"), *loc),
            other => panic!("not usdt: {other:?}"),
        })
        .collect()
}

#[test]
fn fully_specified_probe_by_file() {
    let a = parse("/opt/t/usdt_test:tracetest:testprobe", &fixture()).unwrap();
    assert_eq!(
        a,
        vec![Attach::Usdt {
            path: "/opt/t/usdt_test".into(),
            provider: "tracetest".into(),
            name: "testprobe".into(),
            loc: 0,
            offset: 0x1166,
            semaphore: 0,
            args: "-8@%rax 8@%rdx".into(),
        }]
    );
    assert_eq!(
        crate::probes::display_name(&a[0], "U:/opt/t/usdt_test:tracetest:testprobe"),
        "usdt:/opt/t/usdt_test:tracetest:testprobe"
    );
}

#[test]
fn every_location_is_an_attach_point() {
    let a = parse("/opt/t/usdt_multi:tracetest:testprobe", &fixture()).unwrap();
    assert_eq!(a.len(), 2);
    match (&a[0], &a[1]) {
        (
            Attach::Usdt {
                loc: 0,
                offset: 0x2000,
                semaphore: 0x3028,
                args: a0,
                ..
            },
            Attach::Usdt {
                loc: 1,
                offset: 0x2040,
                semaphore: 0x3028,
                args: a1,
                ..
            },
        ) => assert_eq!((a0.as_str(), a1.as_str()), ("-4@%edi", "8@-8(%rbp)")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wildcards_and_a_missing_provider() {
    let cat = fixture();
    let all = parse("/opt/t/usdt_test:*", &cat).unwrap();
    assert_eq!(
        names(&all)
            .into_iter()
            .map(|(_, n, _)| n)
            .collect::<Vec<_>>(),
        [
            "tracetest2:testprobe2",
            "tracetest:testprobe",
            "tracetest:testprobe2"
        ]
    );
    assert_eq!(parse("/opt/t/usdt_test::*probe2", &cat).unwrap().len(), 2);
    // A unique name needs no provider...
    assert_eq!(parse("/opt/t/usdt_test:testprobe", &cat).unwrap().len(), 1);
    // ...but an ambiguous one does.
    let err = parse("/opt/t/usdt_test:testprobe2", &cat).unwrap_err();
    assert!(
        err.contains("namespace for usdt:/opt/t/usdt_test:testprobe2 not specified, matched 2"),
        "{err}"
    );
    // Wildcards in the path.
    let files: Vec<String> = names(&parse("/opt/t/usdt_*::*", &cat).unwrap())
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    assert!(files.iter().any(|p| p == "/opt/t/usdt_multi"));
}

#[test]
fn quoted_names() {
    let a = parse(r#"/opt/t/quoted:test:"\"probe1\"""#, &fixture()).unwrap();
    assert_eq!(names(&a)[0].1, "test:\"probe1\"");
    assert_eq!(
        split_parts(r#"a:"x:y":"\\z""#),
        ["a".to_string(), "x:y".into(), "\\z".into()]
    );
}

#[test]
fn probes_of_a_process() {
    let cat = fixture().target(42);
    let a = parse("::testprobe", &cat).unwrap();
    assert_eq!(
        names(&a),
        [(
            "/proc/42/root/opt/t/usdt_test".to_string(),
            "tracetest:testprobe".to_string(),
            0
        )]
    );
    // With -p the file may be left out entirely.
    assert_eq!(parse("lib_probe_1", &cat).unwrap().len(), 1);
    assert!(parse(":::*probe2", &cat).is_err());
    assert_eq!(parse("::*probe2", &cat).unwrap().len(), 2);
    // A library the process maps, named by its path.
    let lib = parse("/opt/lib/libtp.so:tracetestlib:lib_probe_1", &cat).unwrap();
    assert_eq!(names(&lib)[0].0, "/proc/42/root/opt/lib/libtp.so");
    // A name no file of the process has is an error.
    assert!(parse("::nope", &cat).unwrap_err().contains("no usdt probe"));
}

#[test]
fn errors() {
    let cat = fixture();
    for (rest, want) in [
        ("/opt/t/usdt_test", "requires 2 or 3 arguments"),
        ("a:b:c:d", "requires 2 or 3 arguments"),
        ("/opt/t/usdt_test:", "must have a target function"),
        (
            "/no/such:p:n",
            "usdt target file '/no/such' does not exist or is not executable",
        ),
        ("::n", "must specify at least path or pid"),
        ("/opt/t/usdt_test:tracetest:nope", "no usdt probe matches"),
        ("/opt/t/zz*:*", "does not exist"),
    ] {
        let err = parse(rest, &cat).unwrap_err();
        assert!(err.contains(want), "{rest}: {err}");
    }
}

#[test]
fn listing() {
    let cat = fixture();
    assert_eq!(
        list_in(Some("usdt:/opt/t/usdt_test:tracetest2:*"), false, &cat).unwrap(),
        "usdt:/opt/t/usdt_test:tracetest2:testprobe2\n"
    );
    assert_eq!(
        list_in(Some("U:/opt/t/usdt_test:*"), false, &cat)
            .unwrap()
            .lines()
            .count(),
        3
    );
    // A wildcard provider lists usdt probes when a path is named...
    let any = list_in(Some("*:/opt/t/usdt_test:*"), false, &cat).unwrap();
    assert!(
        any.contains("usdt:/opt/t/usdt_test:tracetest:testprobe\n"),
        "{any}"
    );
    // ...and not otherwise.
    assert!(!list_in(None, false, &cat).unwrap().contains("usdt:"));
    assert!(list_in(Some("usdt:*"), false, &cat).is_err());
    // With a process: its files' probes, libraries included.
    let cat = fixture().target(42);
    let by_pid = list_in(Some("usdt:*"), false, &cat).unwrap();
    assert_eq!(
        by_pid,
        "usdt:/proc/42/root/opt/lib/libtp.so:tracetestlib:lib_probe_1\n\
         usdt:/proc/42/root/opt/t/usdt_test:tracetest2:testprobe2\n\
         usdt:/proc/42/root/opt/t/usdt_test:tracetest:testprobe\n\
         usdt:/proc/42/root/opt/t/usdt_test:tracetest:testprobe2\n"
    );
    assert_eq!(
        list_in(None, false, &cat).unwrap().matches("usdt:").count(),
        4
    );
    assert_eq!(
        list_in(Some("usdt:*:tracetest2:*"), false, &cat).unwrap(),
        "usdt:/proc/42/root/opt/t/usdt_test:tracetest2:testprobe2\n"
    );
}

#[test]
fn ref_ctr_offset_format() {
    assert_eq!(parse_config_bits("config:32-63\n"), Some(32));
    assert_eq!(parse_config_bits("config1:0-7"), None);
    assert_eq!(parse_config_bits("junk"), None);
}
