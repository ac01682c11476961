"""One view of all daemons and steering them: list --all from any
directory, a stopped (SIGSTOP) daemon, start, restart during a stream, logs,
prune of old logs and locks, and non-ASCII paths through list --json."""

import json
import os
import signal
import time

from harness import HANG_TIMEOUT, ViasockTestCase, pid_alive, wait_dead, wait_until


class RegistryTest(ViasockTestCase):
    def make_dir(self, name):
        path = os.path.join(self.tmp, name)
        os.mkdir(path)
        self.state_dirs.append(os.path.join(path, ".viasock"))
        return path

    def list_all(self, cwd):
        r = self.run_vs(["list", "--all", "--json"], cwd=cwd)
        self.assertOk(r, "viasock list --all --json")
        return json.loads(r.stdout.decode())

    def test_list_all_from_a_third_directory(self):
        one, two, three = (self.make_dir(n) for n in ("one", "two", "three"))
        self.assertOk(self.run_vs(["run", "cat"], b"a\n", cwd=one))
        self.assertOk(self.run_vs(["run", "--pipe", "cat"], b"b\n", cwd=two))
        entries = self.list_all(three)
        self.assertEqual(sorted(e["cwd"] for e in entries), [one, two])
        self.assertEqual({e["state"] for e in entries}, {"ready"})
        self.assertEqual({e["draining"] for e in entries}, {False})
        self.assertEqual(sorted(e["instances_option"] for e in entries), [1, 1])
        self.assertEqual(sorted(e["current_instances"] for e in entries), [1, 1])
        self.assertNotIn("instances", entries[0])
        self.assertFalse(os.path.exists(os.path.join(three, ".viasock")),
                         "list --all created a state directory")
        r = self.run_vs(["list", "--all"], cwd=three)
        self.assertIn(b"[--pipe]", r.stdout, "the table shows what distinguishes a daemon")
        # The plain list of the third directory is empty and points at --all.
        r = self.run_vs(["list"], cwd=three)
        self.assertOk(r)
        self.assertIn(b"list --all", r.stderr)
        for command in (["stop", "--all"], ["prune"]):
            self.assertOk(self.run_vs(command, cwd=three))
        self.assertFalse(os.path.exists(os.path.join(three, ".viasock")),
                         "stop/prune created a state directory")

        pids = [e["pid"] for e in entries]
        r = self.run_vs(["stop", "--all", "--everywhere"], cwd=three)
        self.assertOk(r, "stop --all --everywhere")
        self.assertEqual(wait_dead(pids, HANG_TIMEOUT), [])
        self.assertEqual(self.list_all(three), [])
        self.assertEqual(os.listdir(os.path.join(self.runtime_dir, "viasock")), [],
                         "registry entries left after the daemons exited")

    def test_stopped_daemon_does_not_hold_up_list(self):
        self.assertOk(self.run_vs(["run", "cat"], b"a\n"))
        self.assertOk(self.run_vs(["run", "--pipe", "cat"], b"a\n"))  # another daemon
        frozen = self.daemon_pids()[0]
        os.kill(frozen, signal.SIGSTOP)
        self.addCleanup(lambda: pid_alive(frozen) and os.kill(frozen, signal.SIGCONT))
        began = time.monotonic()
        r = self.run_vs(["list", "--json"], timeout=2 * HANG_TIMEOUT)
        took = time.monotonic() - began
        self.assertOk(r)
        # A stopped daemon accepts but never answers: without its bounded
        # wait, list would hang. This bounds that hang, not list's speed;
        # the states below show it told one daemon from the other.
        self.assertLess(took, HANG_TIMEOUT, "list took %.1f s with a stopped daemon" % took)
        states = {e["pid"]: e["state"] for e in json.loads(r.stdout.decode())}
        self.assertEqual(states.pop(frozen), "not answering")
        self.assertEqual(list(states.values()), ["ready"])
        os.kill(frozen, signal.SIGCONT)

    def test_registry_is_private(self):
        registry = os.path.join(self.runtime_dir, "viasock")
        os.mkdir(registry)
        os.chmod(registry, 0o777)
        r = self.run_vs(["run", "cat"], b"x\n")
        self.assertOk(r, "a call with an unusable registry")
        self.assertEqual(os.listdir(registry), [], "registered in a directory others can write")
        r = self.run_vs(["list", "--all"])
        self.assertEqual(r.returncode, 125)
        self.assertErrorLine(r, registry, "chmod 700")

    def test_fallback_registry_in_tmp(self):
        fallback = "/tmp/viasock-%d" % os.geteuid()
        env = {"XDG_RUNTIME_DIR": None}
        self.assertOk(self.run_vs(["run", "cat"], b"x\n", env=env))
        (meta,) = self.run_jsons().values()
        entry = os.path.join(fallback, "%s.%d.json" % (meta["id"], meta["pid"]))
        self.assertTrue(os.path.exists(entry), "no registry entry in %s" % fallback)
        self.assertEqual(os.stat(fallback).st_mode & 0o777, 0o700)
        r = self.run_vs(["list", "--all", "--json"], env=env, cwd="/")
        self.assertIn(meta["id"], [e["id"] for e in json.loads(r.stdout.decode())])
        self.assertOk(self.run_vs(["stop", meta["id"][:12]], env=env))
        self.assertTrue(wait_until(lambda: not os.path.exists(entry), HANG_TIMEOUT), "the entry outlived its daemon")

    def test_non_ascii_cwd_round_trips(self):
        where = self.make_dir("Übersetzung-日本")
        self.assertOk(self.run_vs(["run", "cat"], b"x\n", cwd=where))
        r = self.run_vs(["list", "--json"], cwd=where)
        self.assertOk(r)
        (entry,) = json.loads(r.stdout.decode("utf-8"))
        self.assertEqual(entry["cwd"], where)
        self.assertEqual(entry["state_dir"], os.path.join(where, ".viasock"))
        (meta,) = self.run_jsons(os.path.join(where, ".viasock")).values()
        self.assertEqual(meta["cwd"], where)


class StartRestartLogsTest(ViasockTestCase):
    def test_start_waits_for_a_slow_tool(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        tool = self.slowtool("--delay", "1", "--banner", "ready")
        began = time.monotonic()
        r = self.run_vs(["start", "-P", "1"] + tool, env=env)
        took = time.monotonic() - began
        self.assertOk(r, "viasock start")
        # A lower bound: the tool sleeps 1 s; load can only lengthen it.
        self.assertGreaterEqual(took, 0.9, "start returned before the tool was ready")
        daemon_id = r.stdout.decode().strip()
        self.assertEqual([d["id"] for d in self.run_jsons().values()], [daemon_id])
        r = self.run_vs(["run", "-v", "-P", "1"] + tool, b"abc\n", env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"ready\nABC\n")
        # The call after start is warm, shown by counts rather than its
        # time: it reused the daemon start left (-v says so), whose tool
        # start waited for and which did not start again.
        self.assertIn(b"reusing daemon " + daemon_id.encode(), r.stderr, "the call after start was not warm")
        self.assertEqual(len(self.started_pids(starts)), 1)
        # A second start finds the daemon.
        r = self.run_vs(["start", "-P", "1"] + tool, env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout.decode().strip(), daemon_id)

    def test_start_reports_a_tool_that_fails(self):
        # With a prelude, the tool is ready once it printed it; this one dies first.
        r = self.run_vs(["start", "-P", "1"] + self.slowtool("--fail-at-start", "no model", "--status", "3"))
        self.assertNotEqual(r.returncode, 0)
        self.assertErrorLine(r)
        self.assertIn(b"no model", r.stderr)

    def test_restart_during_a_stream(self):
        starts = self.starts_file()
        env = self.starts_env(starts)
        tool = self.slowtool("--mode", "echo")
        p = self.spawn_vs(["run", "--pipe"] + tool, env=env)
        lines = [b"line %d\n" % i for i in range(2000)]
        for line in lines[:1000]:
            p.stdin.write(line)
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), lines[0])
        self.assertTrue(wait_until(lambda: len(self.started_pids(starts)) == 1, HANG_TIMEOUT))
        (daemon_id,) = [d["id"] for d in self.run_jsons().values()]
        r = self.run_vs(["restart", daemon_id[:12]])
        self.assertOk(r, "viasock restart")
        self.assertIn(b"restarted " + daemon_id[:12].encode(), r.stdout)
        for line in lines[1000:]:
            p.stdin.write(line)
        p.stdin.close()
        rest = p.stdout.read()
        self.assertEqual(p.wait(timeout=HANG_TIMEOUT), 0, p.stderr.read())
        self.assertBytesEqual(lines[0] + rest, b"".join(lines))
        self.assertTrue(wait_until(lambda: len(self.started_pids(starts)) == 2, HANG_TIMEOUT))
        old, new = self.started_pids(starts)
        self.assertEqual(wait_dead([old], HANG_TIMEOUT), [], "the replaced tool did not exit")
        self.assertTrue(pid_alive(new))
        r = self.run_vs(["run", "--pipe"] + tool, b"after\n", env=env)
        self.assertOk(r)
        self.assertEqual(r.stdout, b"after\n")
        self.assertEqual(len(self.started_pids(starts)), 2, "the next call used the new tool")

    def test_logs(self):
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        (daemon_id,) = [d["id"] for d in self.run_jsons().values()]
        r = self.run_vs(["logs", daemon_id[:8]])
        self.assertOk(r, "viasock logs")
        self.assertIn(b"listening on", r.stdout)
        p = self.spawn_vs(["logs", "-f", daemon_id[:8]])
        # The log holds the line already: reading up to it cannot block.
        seen = b""
        while b"listening on" not in seen:
            line = p.stdout.readline()
            self.assertTrue(line, "logs -f ended before the line that says where the daemon listens")
            seen += line
        self.assertOk(self.run_vs(["stop", "--all"]))
        out, _ = p.communicate(timeout=HANG_TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"exiting", out, "logs -f did not follow to the end")
        # The log of a daemon that exited is still found.
        r = self.run_vs(["logs", daemon_id[:8]])
        self.assertOk(r)
        self.assertIn(b"exiting", r.stdout)
        r = self.run_vs(["logs", "ffffffffffff"])
        self.assertEqual(r.returncode, 1)
        self.assertErrorLine(r, "ffffffffffff")
        # A prefix that names several daemons lists them, to pick from.
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        self.assertOk(self.run_vs(["run", "cat", "-u"], b"x\n"))
        ids = [d["id"][:12] for d in self.run_jsons().values()]
        self.assertEqual(len(ids), 2)
        r = self.run_vs(["logs", ""])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertErrorLine(r, "names 2 daemons", ids[0], ids[1], "give more of it")


class PruneOldTest(ViasockTestCase):
    def test_prune_keeps_recent_logs_and_removes_old_ones(self):
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        self.assertOk(self.run_vs(["run", "--pipe", "cat"], b"x\n"))  # another daemon
        ids = [d["id"] for d in self.run_jsons().values()]
        self.assertOk(self.run_vs(["stop", "--all"]))
        logs = os.path.join(self.state_dir, "logs")
        locks = os.path.join(self.state_dir, "locks")
        # The daemon that learned its tool remembers it next to its log.
        learned = [i + ".learned" for i in ids if os.path.exists(os.path.join(logs, i + ".learned"))]
        self.assertEqual(len(learned), 1, "the learning daemon remembers what it learned")
        kept = sorted([i + ".log" for i in ids] + learned)
        self.assertEqual(sorted(os.listdir(logs)), kept)
        self.assertOk(self.run_vs(["prune"]))
        self.assertEqual(sorted(os.listdir(logs)), kept, "prune removed recent logs")
        old = time.time() - 8 * 86400
        for name in (ids[0] + ".log", ids[0] + ".learned", ids[0] + ".lock"):
            path = os.path.join(locks if name.endswith(".lock") else logs, name)
            if os.path.exists(path):
                os.utime(path, (old, old))
        r = self.run_vs(["prune"])
        self.assertOk(r)
        self.assertEqual(sorted(os.listdir(logs)), sorted(n for n in kept if n.startswith(ids[1])))
        self.assertEqual(os.listdir(locks), [ids[1] + ".lock"])
        self.assertOk(self.run_vs(["prune", "--older-than", "0"]))
        self.assertEqual(os.listdir(logs), [])
        self.assertEqual(os.listdir(locks), [])
        # A removed lock file is made again by the next call.
        r = self.run_vs(["run", "cat"], b"again\n")
        self.assertOk(r)
        self.assertEqual(r.stdout, b"again\n")

    def test_prune_skips_a_held_lock(self):
        import fcntl
        self.assertOk(self.run_vs(["run", "cat"], b"x\n"))
        (daemon_id,) = [d["id"] for d in self.run_jsons().values()]
        self.assertOk(self.run_vs(["stop", "--all"]))
        lock = os.path.join(self.state_dir, "locks", daemon_id + ".lock")
        with open(lock, "rb") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            self.assertOk(self.run_vs(["prune", "--older-than", "0"]))
            self.assertTrue(os.path.exists(lock), "prune removed a lock someone holds")
        self.assertOk(self.run_vs(["prune", "--older-than", "0"]))
        self.assertFalse(os.path.exists(lock))
