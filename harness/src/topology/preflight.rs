//! What a plan needs installed, checked before anything starts: a program missing for the
//! third target would otherwise be found after the first two ran, its results lost.

use sessionbench_model::plan::{LbKind, Network, Plan, RedisPlan, Strategy};

/// One sentence per program a target needs and this machine lacks (on PATH, or where the run
/// looks for it), naming the target.
pub fn missing(plan: &Plan) -> Vec<String> {
    let mut missing = Vec::new();
    for t in &plan.targets {
        let mut needs: Vec<&str> = Vec::new();
        match &t.redis {
            Some(RedisPlan::Cluster { .. }) => needs.extend(["redis-server", "redis-cli"]),
            Some(RedisPlan::Standalone { .. } | RedisPlan::Sentinel { .. }) => {
                needs.push("redis-server");
            }
            Some(RedisPlan::External { .. }) | None => {}
        }
        if t.strategy != Strategy::External {
            match t.lb {
                LbKind::Nginx => needs.push("nginx"),
                LbKind::Haproxy => needs.push("haproxy"),
                LbKind::Apache => needs.push("apache2"),
                LbKind::Reference => {}
            }
        }
        if t.strategy == Strategy::Tomcat {
            needs.extend(["java", "javac"]);
            let home = super::tomcat::home();
            if !home.join("bin/bootstrap.jar").is_file() {
                missing.push(format!(
                    "{}: Tomcat 10 is not installed ({}/bin/bootstrap.jar; set CATALINA_HOME, or ci/setup installs tomcat10-common)",
                    t.name,
                    home.display()
                ));
            }
        }
        if t.network == Network::Netns {
            needs.extend(["ip", "nft"]);
        }
        for program in needs {
            if !crate::shell::on_path(program) {
                missing.push(format!(
                    "{}: `{program}` is not installed (not found on PATH); ci/setup installs it",
                    t.name
                ));
            }
        }
    }
    missing.dedup();
    missing
}
