//! `sessionbench lb`: the reference load balancer.

use sessionbench_common::readiness::Ready;
use sessionbench_targets::lb;
use sessionbench_targets::spec::LbSpec;

use super::args;
use super::exit::CliError;

pub fn run(a: LbSpec) -> Result<(), CliError> {
    a.check().map_err(CliError::Usage)?;
    let config = a.config();
    args::die_with_parent();
    let who = if a.id == "lb" {
        a.id.clone()
    } else {
        format!("lb {}", a.id)
    };
    // The workers have runtimes of their own; this one only accepts, checks health and serves
    // the admin API.
    args::runtime(Some(1))
        .map_err(CliError::io("cannot start the runtime"))?
        .block_on(async {
            let (listener, addr) = args::bind(a.listen).await?;
            let (admin, admin_addr) = args::bind(a.admin).await?;
            Ready {
                ready: "lb".into(),
                id: a.id.clone(),
                addr,
                admin: Some(admin_addr),
                cluster: None,
            }
            .announce()
            .map_err(CliError::io("cannot print the readiness line"))?;
            lb::run(listener, admin, config, args::until_signal(who))
                .await
                .map_err(CliError::io("serving failed"))
        })
}
