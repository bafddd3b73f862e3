//! The peers' accept loop when `accept` itself fails: out of file descriptors, a waiting
//! connection keeps the listener readable, and a loop that only polled would spin at full CPU.
//! Its own test binary, because it lowers this process's descriptor limit.

use sandbench_workloads::server::{Limits, Server};
use std::time::Duration;

/// The `stat` file of this process's thread named `name`, kept open: once descriptors run out
/// it can still be read again.
fn stat_of(name: &str) -> std::fs::File {
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim() == name {
            return std::fs::File::open(task.path().join("stat")).unwrap();
        }
    }
    panic!("no thread named {name}");
}

/// CPU ticks (user + system) the thread has used, read from its open `stat` file.
fn cpu_ticks(stat: &mut std::fs::File) -> u64 {
    use std::io::{Read, Seek};
    let mut text = String::new();
    stat.rewind().unwrap();
    stat.read_to_string(&mut text).unwrap();
    // Fields after the command's closing parenthesis: state is the 1st, utime the 12th.
    let rest: Vec<&str> = text.rsplit_once(')').unwrap().1.split_whitespace().collect();
    rest[11].parse::<u64>().unwrap() + rest[12].parse::<u64>().unwrap()
}

#[test]
fn out_of_descriptors_the_accept_loop_rests_instead_of_spinning() {
    let limits = Limits { connections: 4, session: Duration::from_secs(600) };
    let server = Server::start("127.0.0.1".parse().unwrap(), "sb-backoff", limits, |_c| {}).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut stat = stat_of("sb-backoff");
    // The client's socket is made while descriptors are left; then none are.
    // SAFETY: plain socket calls on a descriptor this test owns; the address is a valid
    // sockaddr_in of the right length.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    let highest = std::fs::read_dir("/proc/self/fd").unwrap().flatten().count() as u64;
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write and read a struct this test owns.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let low = libc::rlimit { rlim_cur: highest.min(old.rlim_cur), rlim_max: old.rlim_max };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &low), 0);
    }
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: server.addr.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: as above.
    let connected =
        unsafe { libc::connect(fd, (&addr as *const libc::sockaddr_in).cast(), std::mem::size_of_val(&addr) as u32) };
    assert_eq!(connected, 0, "the kernel completes the handshake before accept");
    // Every descriptor number below the limit taken, holes included.
    let mut fillers = Vec::new();
    loop {
        // SAFETY: dup of this test's own socket; the copies are closed below.
        let d = unsafe { libc::dup(fd) };
        if d < 0 {
            break;
        }
        fillers.push(d);
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(&mut stat);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(&mut stat) - before;
    // SAFETY: restores the limit read above; closes this test's own socket.
    unsafe {
        libc::setrlimit(libc::RLIMIT_NOFILE, &old);
        for d in fillers {
            libc::close(d);
        }
        libc::close(fd);
    }
    // A spinning loop uses about 100 ticks a second (USER_HZ); one resting 20 ms between tries
    // uses next to none.
    assert!(used <= 10, "the accept loop used {used} ticks in one second without descriptors");
    drop(server);
}
