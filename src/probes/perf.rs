//! The perf-event providers: `interval` (one CPU), `profile` (every CPU) and `software`
//! events with bpftrace's units, aliases and default counts; fed by `parse_attach`.

use super::Attach;

/// Software events as bpftrace names them: (name, alias, default count). The defaults are
/// those bpftrace 0.17 passes as the sample period.
pub const SOFTWARE_EVENTS: [(&str, Option<&str>, u64); 11] = [
    ("alignment-faults", None, 1),
    ("bpf-output", None, 1),
    ("context-switches", Some("cs"), 1000),
    ("cpu-clock", Some("cpu"), 1_000_000),
    ("cpu-migrations", None, 1),
    ("dummy", None, 1),
    ("emulation-faults", None, 1),
    ("major-faults", None, 1),
    ("minor-faults", None, 100),
    ("page-faults", Some("faults"), 100),
    ("task-clock", None, 1),
];

/// `UNIT:N` of an interval or profile probe, as nanoseconds between events.
fn period_ns(kind: &str, rest: &str) -> Result<u64, String> {
    let Some((unit, n)) = rest.split_once(':').filter(|(_, n)| !n.contains(':')) else {
        return Err(format!("{kind} probe type requires 2 arguments"));
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid {kind} count '{n}': expected a positive integer"))?;
    if n == 0 {
        return Err(format!("{kind} count must be greater than zero"));
    }
    let ns = match unit {
        "s" => n.checked_mul(1_000_000_000),
        "ms" => n.checked_mul(1_000_000),
        "us" => n.checked_mul(1_000),
        "hz" => Some((1_000_000_000 / n).max(1)),
        _ => return Err(format!("{unit} is not an accepted unit of time")),
    };
    ns.ok_or_else(|| format!("{kind} period {n}{unit} is too long"))
}

/// `interval:UNIT:N`.
pub(crate) fn parse_interval(rest: &str) -> Result<Attach, String> {
    Ok(Attach::Interval {
        period_ns: period_ns("interval", rest)?,
    })
}

/// `profile:UNIT:N`.
pub(crate) fn parse_profile(rest: &str) -> Result<Attach, String> {
    Ok(Attach::Profile {
        period_ns: period_ns("profile", rest)?,
    })
}

/// `software:EVENT[:COUNT]`; the event keeps the name as written (an alias stays an alias).
pub(crate) fn parse_software(rest: &str) -> Result<Attach, String> {
    let (event, count) = match rest.split_once(':') {
        Some((e, c)) => (e, Some(c)),
        None => (rest, None),
    };
    if event.is_empty() {
        return Err("software probe type requires 1 or 2 arguments".into());
    }
    let Some(&(_, _, default)) = SOFTWARE_EVENTS
        .iter()
        .find(|(name, alias, _)| *name == event || *alias == Some(event))
    else {
        return Err(format!("{event} is not a software probe"));
    };
    let count = match count {
        None | Some("") => default,
        Some(c) => c
            .parse()
            .map_err(|_| format!("invalid software count '{c}': expected an integer"))?,
    };
    Ok(Attach::Software {
        event: event.to_string(),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        let iv = |s| {
            parse_interval(s).map(|a| match a {
                Attach::Interval { period_ns } => period_ns,
                _ => 0,
            })
        };
        assert_eq!(iv("s:1"), Ok(1_000_000_000));
        assert_eq!(iv("ms:100"), Ok(100_000_000));
        assert_eq!(iv("us:100"), Ok(100_000));
        assert_eq!(iv("hz:5"), Ok(200_000_000));
        assert_eq!(
            iv("ns:100"),
            Err("ns is not an accepted unit of time".into())
        );
        assert_eq!(
            iv("1s"),
            Err("interval probe type requires 2 arguments".into())
        );
        assert!(iv("s:1:2").is_err());
        assert!(iv("s:0").is_err());
        assert!(iv("s:x").is_err());
        assert!(iv("s:99999999999999").is_err());
        assert_eq!(
            parse_profile("hz:99"),
            Ok(Attach::Profile {
                period_ns: 10_101_010
            })
        );
        assert!(parse_profile("99").is_err());
    }

    #[test]
    fn software_events() {
        let sw = |e: &str, c| Attach::Software {
            event: e.into(),
            count: c,
        };
        assert_eq!(parse_software("cpu"), Ok(sw("cpu", 1_000_000)));
        assert_eq!(parse_software("cpu-clock"), Ok(sw("cpu-clock", 1_000_000)));
        assert_eq!(parse_software("faults:10"), Ok(sw("faults", 10)));
        assert_eq!(parse_software("cs"), Ok(sw("cs", 1000)));
        assert_eq!(parse_software("page-faults"), Ok(sw("page-faults", 100)));
        assert_eq!(parse_software("task-clock"), Ok(sw("task-clock", 1)));
        assert_eq!(parse_software("minor-faults"), Ok(sw("minor-faults", 100)));
        assert_eq!(parse_software("bpf-output"), Ok(sw("bpf-output", 1)));
        assert_eq!(
            parse_software("nope"),
            Err("nope is not a software probe".into())
        );
        assert!(parse_software("cs:x").is_err());
        assert!(parse_software("").is_err());
    }
}
