//! The BEGIN and END providers: programs run once, at the start and at the end of a run, by
//! `BPF_PROG_TEST_RUN` on a raw_tracepoint program (never attached); fed by `parse_attach`.

use super::catalogue::Catalogue;
use super::perf::BPF_PROG_TYPE_RAW_TRACEPOINT;
use super::{Attach, Context, Provider};

pub static BEGIN: Provider = Provider {
    name: "BEGIN",
    aliases: &[],
    parse: Some(parse_begin),
    prog_type: Some(BPF_PROG_TYPE_RAW_TRACEPOINT),
    context: Context::NONE,
    attach: None,
    list: None,
};

pub static END: Provider = Provider {
    name: "END",
    aliases: &[],
    parse: Some(parse_end),
    prog_type: Some(BPF_PROG_TYPE_RAW_TRACEPOINT),
    context: Context::NONE,
    attach: None,
    list: None,
};

/// `BEGIN` takes no arguments: `parse_attach` refuses any `BEGIN:...` before calling this.
fn parse_begin(_: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    Ok(vec![Attach::Begin])
}

fn parse_end(_: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    Ok(vec![Attach::End])
}
