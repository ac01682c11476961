#include "cli/run_flags.h"

#include <CLI/CLI.hpp>

namespace viasock {

// Long names after the first are aliases: those of the original viasock
// (--process-timeout, --server-timeout, --output-prelude), so that old
// scripts keep working.
void add_run_options(CLI::App* app, RunFlags& f) {
  RunOptions& o = f.options;
  app->add_option("-t,--input-terminator", f.input_regex,
                  "input records end with the line matching this POSIX ERE ('' = every line, '^$' = blank line)")
      ->option_text("REGEX");
  app->add_option("-T,--output-terminator", f.output_regex, "output records end with the line matching this ERE")
      ->option_text("REGEX");
  app->add_flag("-0,--null", f.null_records, "records end with a NUL byte, in and out");
  app->add_option("-P,--prelude,--output-prelude", o.prelude_records,
                  "the tool prints N records at start-up; every client gets them")
      ->option_text("N");
  app->add_option("--prelude-lines", o.prelude_lines, "the tool prints N lines at start-up; every client gets them")
      ->option_text("N");
  app->add_option("-w,--record-timeout,--process-timeout", o.record_timeout,
                  "kill the tool when a record is not answered in SECONDS")
      ->option_text("SECONDS");
  app->add_option("-W,--idle-timeout,--server-timeout", o.idle_timeout,
                  "the daemon exits after SECONDS without clients (0: never; default 60)")
      ->option_text("SECONDS");
  app->add_option("-j,--instances", f.instances,
                  "run N instances of the tool, or MIN:MAX growing with the load (a later call may raise MAX; "
                  "default 1)")
      ->option_text("N|MIN:MAX");
  app->add_option("--max-records", o.max_records, "recycle an instance after it served N records (for tools that leak)")
      ->option_text("N");
  app->add_flag("-L,--line-buffered", o.line_buffered, "run the tool under 'stdbuf -oL' so it flushes every line");
  app->add_flag("--pty", o.pty, "give the tool a terminal as stdout, so that it flushes every line (not checked)");
  app->add_flag("--pipe", o.pipe, "the tool flushes every answer on a pipe: learn nothing, cut answers by lines");
  app->add_option("--retry", o.retries,
                  "send records in flight on a tool that died to a fresh instance, up to N times (stateless "
                  "tools, N from 0 to 100); a record that kills it N+1 times fails its own call")
      ->check(CLI::Range(0, kMaxRetries))
      ->option_text("N");
  app->add_flag("--quiet-tool", o.quiet_tool, "send the tool's stderr to the daemon's log only, not to the caller");
  app->add_option("--watch", o.watch, "also start a new daemon when PATH changes (repeatable)")->option_text("PATH");
  app->add_flag("--no-track", o.no_track,
                "do not track the files the tool reads at start: only the tool, the files its arguments name and "
                "--watch make a new daemon when they change");
  app->add_option("--env", o.env, "the value of variable NAME is part of the command's identity (repeatable)")
      ->option_text("NAME");
  app->add_option("--max-record", o.max_record,
                  "fail a call whose input record exceeds SIZE (K, M, G suffixes; default 64M)")
      ->transform(CLI::AsSizeValue(false))
      ->option_text("SIZE");
  app->add_option("--max-answer", o.max_answer,
                  "fail a call whose tool prints an answer of more than SIZE (K, M, G suffixes; default 256M)")
      ->transform(CLI::AsSizeValue(false))
      ->option_text("SIZE");
  app->add_option("-l,--log", o.log_file,
                  "the daemon's log file (default: STATE_DIR/logs/ID.log); only the call that starts the daemon "
                  "sets it")
      ->option_text("FILE");
}

void add_client_options(CLI::App* app, RunFlags& f, bool no_spawn) {
  RunOptions& o = f.options;
  app->add_option("--state-dir", o.state_dir, "state directory (default: $VIASOCK_DIR or ./.viasock)")
      ->option_text("DIR");
  if (no_spawn) app->add_flag("--no-spawn", o.no_spawn, "fail when no daemon runs instead of starting one");
  app->add_flag("-v,--verbose", o.verbose, "say whether a daemon was started or reused");
}

void finish_run_options(RunFlags& f, const CLI::App* app) {
  RunOptions& o = f.options;
  if (f.null_records) o.input_format.kind = o.output_format.kind = RecordFormat::kNull;
  // -0 with -t/-T is reported by validate(): keep the regex kinds visible.
  if (app->count("-t")) o.input_format = {RecordFormat::kRegex, f.input_regex};
  if (app->count("-T")) o.output_format = {RecordFormat::kRegex, f.output_regex};
}

}  // namespace viasock
