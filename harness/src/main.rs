//! The `sessionbench` binary: everything happens in [`sessionbench::cli`].

fn main() -> std::process::ExitCode {
    sessionbench::cli::main()
}
