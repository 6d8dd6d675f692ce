//! compose/docker-compose.yml describes the same default stack as
//! `parity run --backend docker`: names, images, ports and environment.

use std::collections::BTreeMap;
use webprofile_parity::cli::{self, Command};
use webprofile_parity::commands::run_config;
use webprofile_parity::run::Source;
use webprofile_parity::stack::DockerSettings;
use yaml_rust2::{Yaml, YamlLoader};

fn harness_defaults() -> DockerSettings {
    let cli = cli::try_parse_from(["parity", "run", "--backend", "docker"]).unwrap();
    let Command::Run(args) = cli.command else { unreachable!() };
    match run_config(&args, &|_| None).unwrap().source {
        Source::Docker(settings) => *settings,
        other => panic!("expected the docker backend, got {other:?}"),
    }
}

/// `${VAR:-default}` → `default`, as compose resolves it with VAR unset.
fn resolve(text: &str) -> String {
    let re = regex::Regex::new(r"\$\{[A-Z_]+:-([^}]*)\}").unwrap();
    re.replace_all(text, "$1").into_owned()
}

fn compose() -> Yaml {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/compose/docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text).expect("compose file is valid YAML").remove(0)
}

fn str_of(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => resolve(s),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

#[test]
fn compose_names_images_and_network_match_the_harness() {
    let defaults = harness_defaults();
    let doc = compose();
    let services = &doc["services"];
    let [mongo, first, second] =
        <[String; 3]>::try_from(defaults.container_names()).expect("three by default");
    for (service, container, image) in [
        ("mongo", &mongo, &defaults.mongo_image),
        ("webprofile", &first, &defaults.image_tag),
        ("webprofile-node2", &second, &defaults.image_tag),
    ] {
        let s = &services[service];
        assert!(!s.is_badvalue(), "service {service} missing from compose");
        assert_eq!(&str_of(&s["container_name"]), container, "{service} container name");
        assert_eq!(&str_of(&s["image"]), image, "{service} image");
        assert_eq!(str_of(&s["networks"][0]), "parity", "{service} network");
    }
    assert_eq!(str_of(&doc["networks"]["parity"]["name"]), defaults.network);
    assert_eq!(str_of(&services["mongo"]["ports"][0]), "127.0.0.1::27017");
    assert_eq!(str_of(&services["webprofile"]["ports"][0]), "127.0.0.1::3900");
}

#[test]
fn compose_environment_matches_what_the_harness_passes() {
    let defaults = harness_defaults();
    let doc = compose();
    for (index, service) in ["webprofile", "webprofile-node2"].iter().enumerate() {
        let harness: BTreeMap<String, String> = defaults
            .instance_env(index as u64)
            .into_iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let Yaml::Hash(env) = &doc["services"][*service]["environment"] else {
            panic!("{service}: environment must be a mapping");
        };
        let compose: BTreeMap<String, String> = env.iter().map(|(k, v)| (str_of(k), str_of(v))).collect();
        assert_eq!(compose, harness, "{service} environment");
    }
}
