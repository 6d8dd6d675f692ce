//! Which real service the reference server answers like: the Go shim (the
//! contract's default) or the Node service it replaces. A flavor is a
//! dialect: the one table of `contract::dialect` says what each answers, so
//! the reference answers exactly what the dialect checks expect — and each
//! writes `userId` with its implementation's BSON type.

pub use crate::contract::Dialect as Flavor;

use std::fmt;
use std::str::FromStr;

/// `--flavor`: the flavor of every instance, and of some alone
/// (`node@2`, `go,node@1`), as faults take `@K`. Mixing flavors on one store
/// is how a cross-implementation run is made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flavors {
    /// Every instance not named below.
    pub all: Flavor,
    /// (instance number from 1, its flavor).
    pub scoped: Vec<(usize, Flavor)>,
}

impl Flavors {
    pub fn every(flavor: Flavor) -> Flavors {
        Flavors { all: flavor, scoped: Vec::new() }
    }

    /// Instance `number`'s (1-based) flavor.
    pub fn for_instance(&self, number: usize) -> Flavor {
        self.scoped.iter().find(|(k, _)| *k == number).map_or(self.all, |(_, f)| *f)
    }

    /// The instances some flavor names alone, ascending.
    pub fn scoped_instances(&self) -> Vec<usize> {
        let mut numbers: Vec<usize> = self.scoped.iter().map(|(k, _)| *k).collect();
        numbers.sort_unstable();
        numbers
    }

    /// Whether the instances answer (and write) differently.
    pub fn is_mixed(&self) -> bool {
        self.scoped.iter().any(|(_, f)| *f != self.all)
    }
}

/// "go", "node", "go, node@2": parses back to the same flavors.
impl fmt::Display for Flavors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.all.name())?;
        for (k, flavor) in &self.scoped {
            write!(f, ", {flavor}@{k}")?;
        }
        Ok(())
    }
}

impl FromStr for Flavors {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut flavors = Flavors::default();
        let mut all = None;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('@') {
                None => {
                    if all.replace(part.parse::<Flavor>()?).is_some() {
                        return Err(format!("flavor `{text}`: more than one flavor for every instance"));
                    }
                }
                Some((flavor, k)) => {
                    let k = k.trim().parse::<usize>().ok().filter(|k| *k >= 1).ok_or_else(|| {
                        format!("flavor `{part}`: after @ comes the instance's number (1, 2, …), e.g. node@2")
                    })?;
                    if flavors.scoped.iter().any(|(n, _)| *n == k) {
                        return Err(format!("flavor `{text}`: instance {k} given more than once"));
                    }
                    flavors.scoped.push((k, flavor.trim().parse()?));
                }
            }
        }
        if all.is_none() && flavors.scoped.is_empty() {
            return Err("an empty flavor (expected go, node, or e.g. go,node@2)".into());
        }
        flavors.all = all.unwrap_or_default();
        flavors.scoped.sort_unstable_by_key(|(k, _)| *k);
        Ok(flavors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_by_instance_parse_and_print_back() {
        let f: Flavors = "node@1".parse().unwrap();
        assert_eq!((f.for_instance(1), f.for_instance(2)), (Flavor::Node, Flavor::Go));
        assert!(f.is_mixed());
        let g: Flavors = "node, go@2".parse().unwrap();
        assert_eq!(
            (g.for_instance(1), g.for_instance(2), g.for_instance(3)),
            (Flavor::Node, Flavor::Go, Flavor::Node)
        );
        assert_eq!(g.to_string(), "node, go@2");
        assert_eq!(g.to_string().parse::<Flavors>().unwrap(), g);
        assert_eq!("NODE".parse::<Flavors>().unwrap(), Flavors::every(Flavor::Node));
        assert!(!Flavors::every(Flavor::Node).is_mixed());
        assert!(!"go@1".parse::<Flavors>().unwrap().is_mixed(), "go everywhere");
        for (bad, says) in [
            ("", "empty"),
            ("ruby", "go or node"),
            ("node@0", "instance's number"),
            ("go,node", "more than one"),
            ("node@1,go@1", "more than once"),
        ] {
            assert!(bad.parse::<Flavors>().unwrap_err().contains(says), "{bad}");
        }
    }
}
