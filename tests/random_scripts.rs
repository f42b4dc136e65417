//! Random well-typed scripts compiled by rtrace, run in the kernel and compared with a reference evaluator; plus the saved shrunk failures.

mod random;

/// `RTRACE_RANDOM_SEED` (first seed) and `RTRACE_RANDOM_COUNT` (how many) choose the scripts.
#[test]
fn random_scripts_match_the_reference() {
    random::check_many();
}

#[test]
fn saved_random_regressions_still_pass() {
    random::check_regressions();
}
