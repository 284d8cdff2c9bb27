//! The lock a run holds while it picks its subnet and makes its bridge, so two runs never pick
//! one subnet. It lives in a directory only its owner (root) may enter, so no other user can
//! hold it or plant a link where it is created, and a run waits for it a bounded time, then
//! names the holder.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};

use super::command::NetError;

const DIR: &str = "/run/sessionbench";

/// Longer than any run holds it (a subnet's choice and a bridge: milliseconds).
const WAIT: Duration = Duration::from_secs(10);

/// Takes the lock, or says who holds it.
pub fn lock() -> Result<Flock<File>, NetError> {
    lock_in(Path::new(DIR), WAIT)
}

fn lock_in(dir: &Path, wait: Duration) -> Result<Flock<File>, NetError> {
    let failed =
        |what: &Path, e: &dyn std::fmt::Display| NetError::new(format!("{}: {e}", what.display()));
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(failed(dir, &e)),
        _ => {}
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| failed(dir, &e))?;
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o077 != 0 {
        return Err(failed(
            dir,
            &"not a directory of this user's that only it may enter (mode 0700); remove it and a run makes it again",
        ));
    }
    let path = dir.join("netns.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(|e| failed(&path, &e))?;
    let deadline = Instant::now() + wait;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut held) => {
                // Who holds it, for a run that waits in vain.
                let _ = held.set_len(0);
                let _ = write!(held, "{}", std::process::id());
                return Ok(held);
            }
            Err((back, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                file = back;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err((back, Errno::EWOULDBLOCK)) => {
                return Err(failed(
                    &path,
                    &format!(
                        "held by {} for over {}",
                        holder(back),
                        humantime::format_duration(wait)
                    ),
                ));
            }
            Err((_, e)) => return Err(failed(&path, &e)),
        }
    }
}

/// The pid the lock's holder wrote, with its command line where it can be read.
fn holder(mut file: File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    let Ok(pid) = text.trim().parse::<u32>() else {
        return "another process".into();
    };
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    match command.is_empty() {
        true => format!("pid {pid}"),
        false => format!("pid {pid} ({command})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sessionbench-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_held_lock_is_waited_for_a_bounded_time_and_its_holder_named() {
        let dir = dir("held");
        let held = lock_in(&dir, Duration::ZERO).expect("free");
        let started = Instant::now();
        let err = lock_in(&dir, Duration::from_millis(200)).expect_err("held");
        assert!(started.elapsed() >= Duration::from_millis(200));
        let me = std::process::id();
        assert!(
            err.to_string().contains(&format!("held by pid {me} (")),
            "{err}"
        );
        drop(held);
        lock_in(&dir, Duration::ZERO).expect("free again");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_link_planted_in_its_place_or_a_directory_others_may_enter_is_refused() {
        let dir = dir("planted");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .expect("dir");
        let target = dir.with_extension("target");
        let _ = std::fs::remove_file(&target);
        std::os::unix::fs::symlink(&target, dir.join("netns.lock")).expect("link");
        let err = lock_in(&dir, Duration::ZERO).expect_err("a link");
        assert!(err.to_string().contains("netns.lock"), "{err}");
        assert!(!target.exists(), "nothing made where the link points");
        std::fs::remove_file(dir.join("netns.lock")).expect("unlink");
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let err = lock_in(&dir, Duration::ZERO).expect_err("open to others");
        assert!(err.to_string().contains("mode 0700"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
