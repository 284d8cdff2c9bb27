//! The commands' output. A reader that goes away (`sessionbench report RUN | head`) ends the
//! program quietly with the status a shell gives a program a closed pipe kills (141), as
//! `cat` would end, rather than with a panic.

use std::io::Write;

/// The exit status of a command whose reader went away.
pub const CLOSED_PIPE: i32 = 141;

/// Writes `text` to stdout.
pub fn write(text: std::fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(text).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE);
        }
        eprintln!("sessionbench: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `print!` through [`write`].
macro_rules! say {
    ($($arg:tt)*) => { $crate::cli::stdout::write(format_args!($($arg)*)) };
}

/// `println!` through [`write`], in one write.
macro_rules! sayln {
    () => { $crate::cli::stdout::write(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::cli::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
