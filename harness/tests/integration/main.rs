//! Integration tests: real `sessionbench node` and `sessionbench lb` processes on loopback.

mod lb;
mod node;
mod support;
