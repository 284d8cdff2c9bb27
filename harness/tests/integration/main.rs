//! Integration tests: real `sessionbench` processes (nodes, load balancers, whole runs) on
//! loopback.

mod attacks;
mod ci_suites;
mod cluster;
mod codecs;
mod commands;
mod docs;
mod driver;
mod external;
mod known_losses;
mod layering;
mod lb;
mod netns;
mod node;
mod proxy;
mod real_lb;
mod remote;
mod reports;
mod run;
mod scenarios;
mod shards;
mod suites;
mod support;
mod templates;
mod tomcat;
