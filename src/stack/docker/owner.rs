//! Labels on everything the harness creates, and who owns a labelled
//! resource: so `parity clean` and a new run can tell a leftover of a dead
//! harness from the stack of one that is still running.

use std::collections::HashMap;

/// Marks a resource as created by `parity`; `parity clean` touches nothing else.
pub const MANAGED: &str = "io.webprofile-parity.managed";
pub const RUN_ID: &str = "io.webprofile-parity.run-id";
/// What the resource is in the stack: network, mongo, webprofile, webprofile-node2, image.
pub const ROLE: &str = "io.webprofile-parity.role";
const OWNER_PID: &str = "io.webprofile-parity.pid";
const OWNER_HOST: &str = "io.webprofile-parity.host";

/// The harness process that creates resources in this run.
#[derive(Clone, Debug)]
pub struct Owner {
    pub run_id: String,
    pub pid: u32,
    pub host: String,
}

/// Whether the harness that created a resource is still running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// This very process.
    Us,
    /// Another harness on this host, still running.
    Alive { pid: u32, run_id: String },
    /// Its harness is gone (finished with --no-cleanup, crashed, SIGKILLed).
    Gone { run_id: String },
    /// Created from another host sharing this Docker engine: cannot tell.
    Unknown { host: String, run_id: String },
}

impl Owner {
    pub fn current(run_id: &str) -> Owner {
        Owner { run_id: run_id.to_string(), pid: std::process::id(), host: this_host() }
    }

    pub fn labels(&self, role: &str) -> HashMap<String, String> {
        HashMap::from([
            (MANAGED.to_string(), "true".to_string()),
            (RUN_ID.to_string(), self.run_id.clone()),
            (ROLE.to_string(), role.to_string()),
            (OWNER_PID.to_string(), self.pid.to_string()),
            (OWNER_HOST.to_string(), self.host.clone()),
        ])
    }

    /// Who owns a resource carrying these labels, seen from this process.
    pub fn liveness_of(&self, labels: &HashMap<String, String>) -> Liveness {
        let run_id = labels.get(RUN_ID).cloned().unwrap_or_else(|| "?".into());
        let host = labels.get(OWNER_HOST).cloned().unwrap_or_default();
        if host != self.host {
            return Liveness::Unknown { host, run_id };
        }
        match labels.get(OWNER_PID).and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) if pid == self.pid && run_id == self.run_id => Liveness::Us,
            Some(pid) if pid != self.pid && is_parity_process(pid) => Liveness::Alive { pid, run_id },
            _ => Liveness::Gone { run_id },
        }
    }
}

pub fn is_managed(labels: &HashMap<String, String>) -> bool {
    labels.get(MANAGED).is_some_and(|v| v == "true")
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A live process whose command line is a `parity` binary (pids get reused).
fn is_parity_process(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let name = String::from_utf8_lossy(program);
    name.rsplit('/').next().is_some_and(|base| base.starts_with("parity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_mark_the_resource_managed_and_name_its_run() {
        let owner = Owner::current("20261129T010203Z");
        let labels = owner.labels("mongo");
        assert!(is_managed(&labels));
        assert_eq!(labels[RUN_ID], "20261129T010203Z");
        assert_eq!(labels[ROLE], "mongo");
        assert!(!is_managed(&HashMap::new()));
    }

    #[test]
    fn liveness_tells_us_from_dead_and_foreign_owners() {
        let owner = Owner::current("run-a");
        assert_eq!(owner.liveness_of(&owner.labels("network")), Liveness::Us);

        let mut dead = owner.labels("network");
        dead.insert(OWNER_PID.into(), u32::MAX.to_string());
        dead.insert(RUN_ID.into(), "run-b".into());
        assert_eq!(owner.liveness_of(&dead), Liveness::Gone { run_id: "run-b".into() });

        // A live process that is not parity (this test binary's parent shell, pid 1…) is not an owner.
        let mut not_parity = owner.labels("network");
        not_parity.insert(OWNER_PID.into(), "1".into());
        not_parity.insert(RUN_ID.into(), "run-c".into());
        assert_eq!(owner.liveness_of(&not_parity), Liveness::Gone { run_id: "run-c".into() });

        let mut foreign = owner.labels("network");
        foreign.insert(OWNER_HOST.into(), "elsewhere".into());
        assert!(matches!(owner.liveness_of(&foreign), Liveness::Unknown { .. }));
    }
}
