//! Parsers on text captured from real hosts (tests/fixtures).
use sandbench_sampler::{cgroup, proc};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn proc_stat() {
    let (t, cpus) = proc::parse_proc_stat(&fixture("proc_stat.txt")).unwrap();
    assert_eq!(cpus, 2);
    assert_eq!((t.user, t.nice, t.system, t.idle, t.iowait), (11327, 0, 2657, 63322, 374));
    assert_eq!((t.softirq, t.steal, t.guest), (40, 93, 0));
    assert!(proc::parse_proc_stat("intr 1 2 3").is_none());
}

#[test]
fn pid_stat_plain_and_with_parentheses_in_comm() {
    let s = proc::parse_pid_stat(&fixture("pid_stat.txt")).unwrap();
    assert_eq!((s.pid, s.ppid, s.num_threads), (4160, 4156, 1));
    let w = proc::parse_pid_stat(&fixture("pid_stat_weird_comm.txt")).unwrap();
    assert_eq!(w, s);
    assert!(proc::parse_pid_stat("garbage").is_none());
}

#[test]
fn smaps_and_schedstat() {
    assert_eq!(proc::parse_smaps_rollup_pss(&fixture("smaps_rollup.txt")), Some(802));
    assert_eq!(proc::parse_smaps_rollup_uss(&fixture("smaps_rollup.txt")), Some(128 + 112));
    assert_eq!(proc::parse_schedstat_ns(&fixture("schedstat.txt")), Some(983843));
}

#[test]
fn cgroup_v1_files() {
    assert_eq!(cgroup::parse_cpuacct_stat(&fixture("cgv1_cpuacct_stat.txt")), Some((11503, 2739)));
    assert_eq!(cgroup::parse_single_u64(&fixture("cgv1_cpuacct_usage.txt")), Some(142427060783));
    assert_eq!(cgroup::parse_single_u64(&fixture("cgv1_memory_usage.txt")), Some(1030668288));
    // v1 counts the subtree's inactive file pages as total_inactive_file, not inactive_file.
    assert_eq!(cgroup::parse_inactive_file(&fixture("cgv1_memory_stat.txt")), Some(5347995648));
}

#[test]
fn cgroup_v2_memory_stat() {
    assert_eq!(cgroup::parse_inactive_file(&fixture("cgv2_memory_stat.txt")), Some(20549632));
    assert_eq!(cgroup::parse_inactive_file("anon 5\n"), None);
}

#[test]
fn cgroup_v2_files() {
    let (u, us, sy) = cgroup::parse_cpu_stat_v2(&fixture("cgv2_cpu_stat.txt")).unwrap();
    assert_eq!((u, us, sy), (140446081000, 113342730000, 27103351000));
    assert_eq!(cgroup::parse_single_u64(&fixture("cgv2_memory_current.txt")), Some(52428800));
}

#[test]
fn children_file() {
    assert_eq!(proc::parse_children("412 415 \n"), vec![412, 415]);
    assert!(proc::parse_children("").is_empty());
}

#[test]
fn process_tree() {
    let table = [(10, 1), (11, 10), (12, 11), (13, 1), (14, 12)];
    let mut d = proc::descendants(&[10], &table);
    d.sort();
    assert_eq!(d, vec![10, 11, 12, 14]);
}
