"""Client rows of bench/run (steps 6 and 7): the CPU a client burns while
it waits for a slow answer, and the daemon's memory idle, with 100 clients
connected and idle again. ClientSteps is a part of the Bench class of
bench/run."""

import os
import sys
import time

from processes import daemon_pids, process_gone, spawn, wait_status

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = os.path.realpath(sys.executable)


class ClientSteps:
    # -- 7. a client waiting for a slow answer --

    def waiting_client(self):
        """CPU a client burns while it waits for answers after its input ended.

        stdin is a pipe whose writer has closed, the usual case in a pipeline
        (a pipe at EOF stays readable/hung-up for poll(2) forever)."""
        sd = self.state_dir("waiting")
        env = self.env(sd)
        one = self.write_file("one-line", b"x\n")
        delay = 1.0
        vs = [self.viasock, "run", "-W", "600", PYTHON, os.path.join(HERE, "slowstart.py"), "0", str(delay)]
        code, data = self.output_of(vs, env, one)  # starts the daemon
        results = []
        for stdin_kind in ("pipe", "file"):
            if stdin_kind == "pipe":
                r, w = os.pipe()
                actions = [(os.POSIX_SPAWN_DUP2, r, 0),
                           (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
                pid = os.posix_spawn(self.viasock, vs, env, file_actions=actions)
                os.close(r)
                os.write(w, b"x\n")
                os.close(w)
            else:
                pid = spawn(vs, env, one)
            _, status, usage = os.wait4(pid, 0)
            cpu = usage.ru_utime + usage.ru_stime
            if os.waitstatus_to_exitcode(status) != 0:
                self.problems.append("waiting client (%s): exit status %d" %
                                     (stdin_kind, os.waitstatus_to_exitcode(status)))
            results.append(cpu)
        self.row("client CPU while waiting %.0f s for an answer, stdin a pipe" % delay, results[0] * 1e3, None,
                 None, "<= 10 ms", results[0] <= 0.010)
        self.row("  same, stdin a file", results[1] * 1e3, None, None, "<= 10 ms", results[1] <= 0.010)
        self.stop_daemons(sd)

    # -- 6. memory --

    def rss_kib(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def memory(self):
        clients = 100
        sd = self.state_dir("memory")
        env = self.env(sd)
        one = self.write_file("one-line", b"x\n")
        vs = [self.viasock, "run", "-W", "600", "cat"]
        code, data = self.output_of(vs, env, one)
        pids = daemon_pids(sd)
        if code != 0 or not pids:
            self.problems.append("memory: no daemon (status %d)" % code)
            return
        daemon = pids[0]
        time.sleep(0.2)
        idle = self.rss_kib(daemon)
        # 100 clients at once, each holding its connection open on a pipe.
        procs = []
        try:
            for i in range(clients):
                r_in, w_in = os.pipe()
                r_out, w_out = os.pipe()
                actions = [(os.POSIX_SPAWN_DUP2, r_in, 0), (os.POSIX_SPAWN_DUP2, w_out, 1)]
                pid = os.posix_spawn(self.viasock, vs, env, file_actions=actions)
                os.close(r_in)
                os.close(w_out)
                procs.append((pid, w_in, r_out))
            # every client answers one line: so every one is connected
            for i, (pid, w_in, r_out) in enumerate(procs):
                os.write(w_in, b"client %d\n" % i)
            bad = 0
            for i, (pid, w_in, r_out) in enumerate(procs):
                want = b"client %d\n" % i
                got = b""
                while len(got) < len(want):
                    chunk = os.read(r_out, len(want) - len(got))
                    if not chunk:
                        break
                    got += chunk
                bad += got != want
            if bad:
                self.problems.append("memory: %d of %d clients got a wrong answer" % (bad, clients))
            busy = self.rss_kib(daemon)
        finally:
            for pid, w_in, r_out in procs:
                os.close(w_in)
            failed = 0
            for pid, w_in, r_out in procs:
                failed += wait_status(pid) != 0
                os.close(r_out)
            if failed:
                self.problems.append("memory: %d of %d clients exited non-zero" % (failed, clients))
        # The daemon gives its heap back once no call came for 1 s.
        time.sleep(1.5)
        after = self.rss_kib(daemon)
        self.row("daemon RSS idle (cat)", idle / 1024, None, None, "<= 10 MiB", idle <= 10 * 1024, "MiB")
        self.row("daemon RSS, %d clients connected" % clients, busy / 1024, None, None, "<= 32 MiB",
                 busy <= 32 * 1024, "MiB")
        self.row("daemon RSS idle again after them", after / 1024, None, None, "(info)", None, "MiB")
        if self.warm_daemon and not process_gone(self.warm_daemon):
            self.row("daemon RSS idle, after 200+ warm calls", self.rss_kib(self.warm_daemon) / 1024, None, None,
                     "(info)", None, "MiB")
        self.stop_daemons(sd)
