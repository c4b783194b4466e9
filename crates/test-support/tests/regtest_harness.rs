//! The regtest harness stops exactly the processes it started, on drop and on panic, and
//! removes its temp dir.

use std::path::PathBuf;

use test_support::regtest::{Regtest, RegtestConfig};

/// `true` while a process with this PID exists (signal 0 only checks).
fn alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only reports whether the PID exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// The state letter of /proc/PID/stat (R, S, D, T, Z...).
fn process_state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process exists");
    // "pid (comm) S ...": the state follows the last ')'.
    let after = &stat[stat.rfind(')').expect("comm field") + 1..];
    after.trim_start().chars().next().expect("state letter")
}

fn pids(net: &Regtest) -> Vec<u32> {
    let mut pids = vec![net.daemon_pid().expect("daemon running")];
    for i in 0..net.wallet_count() {
        pids.push(net.wallet_pid(i).expect("wallet-rpc running"));
    }
    pids
}

#[tokio::test]
async fn drop_kills_its_processes_and_removes_its_dir() {
    let Some(mut net) = Regtest::start_for_test(RegtestConfig {
        wallets: 2,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let started = pids(&net);
    assert!(started.iter().all(|p| alive(*p)));
    let dir: PathBuf = net.dir().to_owned();
    assert!(dir.is_dir());
    assert!(net.daemon().get_block_count().await.unwrap() >= 1);

    // pause_wallet returns only once the process is stopped (state T), resume undoes it.
    net.pause_wallet(0);
    assert_eq!(process_state(started[1]), 'T');
    net.resume_wallet(0);
    net.wallet(0)
        .get_version()
        .await
        .expect("answers after resume");

    net.stop_wallet(1);
    assert!(!alive(started[2]), "stop_wallet kills wallet-rpc 1");
    assert_eq!(net.wallet_pid(1), None);
    assert!(alive(started[1]), "other wallet-rpcs keep running");

    drop(net);
    for pid in started {
        assert!(!alive(pid), "pid {pid} survived the drop");
    }
    assert!(!dir.exists(), "temp dir {} was not removed", dir.display());
}

#[test]
fn a_panicking_test_leaves_no_process_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let Some(net) = Regtest::start_for_test(RegtestConfig {
                wallets: 1,
                ..Default::default()
            })
            .await
            else {
                tx.send(None).unwrap();
                return;
            };
            tx.send(Some(pids(&net))).unwrap();
            panic!("deliberate panic while the regtest network runs");
        });
    })
    .join();
    let Some(started) = rx.recv().unwrap() else {
        return;
    };
    assert!(outcome.is_err(), "the thread panicked");
    for pid in started {
        assert!(!alive(pid), "pid {pid} survived the panic");
    }
}
