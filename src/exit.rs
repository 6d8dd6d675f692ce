//! Exit codes: one enum, documented once, shown in `--help` and the README.

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
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// The table printed at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   parity holds (run) / thresholds not exceeded; also no failure with a phase not run (status incomplete)
  1   a parity or contract failure was found (or the canary failed)
  2   thresholds exceeded (check, collect)
  3   infrastructure error: stack never ready, target unreachable, Docker unreachable, nothing tested
  64  usage error: bad flag or setting, conflicting selections
  130 interrupted (SIGINT/SIGTERM): what was gathered is still written";
