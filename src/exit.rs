//! Exit codes: one enum, documented once; every command's `--help` lists
//! its codes from here.

use std::fmt;

/// The process exit codes of `parity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Parity holds / thresholds not exceeded.
    Ok = 0,
    /// A parity or contract failure was found.
    ParityFailure = 1,
    /// Thresholds exceeded (`check`, `collect`).
    ThresholdExceeded = 2,
    /// Infrastructure error: Docker unreachable, image missing, stack never ready.
    Infrastructure = 3,
    /// Usage error: bad flag, bad value.
    Usage = 64,
    /// Interrupted by SIGINT or SIGTERM; the artifacts gathered so far were written.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// What the code means for `parity run` (the default wording of `--help`).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "parity holds; also no failure with a phase not run (status incomplete)",
            Exit::ParityFailure => "a parity or contract failure was found (or the canary failed)",
            Exit::ThresholdExceeded => "thresholds exceeded (check, collect)",
            Exit::Infrastructure => {
                "infrastructure error: stack never ready, target unreachable, Docker unreachable, nothing tested, \
                 every failure the service failing (no answer, 5xx), its rate limit outlasting \
                 --rate-limit-budget (status incomplete), or an output that could not be written"
            }
            Exit::Usage => "usage error: a bad flag or setting, conflicting selections",
            Exit::Interrupted => "interrupted (SIGINT/SIGTERM): what was gathered is still written",
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The `Exit codes:` section of a command's `--help`: each code with its
/// meaning for that command (`None`: the general meaning).
pub fn help(codes: &[(Exit, Option<&str>)]) -> String {
    let mut out = String::from("Exit codes:");
    for (exit, meaning) in codes {
        out += &format!("\n  {:<3} {}", exit.code(), meaning.unwrap_or(exit.meaning()));
    }
    out
}

/// `parity run`'s codes, also shown after `parity --help`.
pub fn run_help() -> String {
    help(&[
        (Exit::Ok, None),
        (Exit::ParityFailure, None),
        (Exit::Infrastructure, None),
        (Exit::Usage, None),
        (Exit::Interrupted, None),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_codes_with_the_general_or_the_given_meaning() {
        let text = help(&[(Exit::Ok, Some("written")), (Exit::Usage, None)]);
        assert_eq!(text, format!("Exit codes:\n  0   written\n  64  {}", Exit::Usage.meaning()));
        assert!(run_help().contains("130 interrupted"));
    }
}
