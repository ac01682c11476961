#include <catch2/catch.hpp>

#include "server/scheduler.h"

using namespace viasock::sched;

namespace {

CostMeter measured(size_t records, size_t bytes, double seconds) {
  CostMeter meter;
  meter.observe(records, bytes, seconds);
  return meter;
}

}  // namespace

TEST_CASE("a meter averages time per record and per byte") {
  CostMeter meter;
  CHECK_FALSE(meter.known());
  meter.observe(10, 1000, 0.010);
  CHECK(meter.known());
  CHECK(meter.per_record() == Approx(0.001));
  CHECK(meter.per_byte() == Approx(0.00001));
  // The larger estimate wins: one big record costs what its bytes cost.
  CHECK(meter.predict(1, 100000) == Approx(1.0));
  CHECK(meter.predict(100, 10) == Approx(0.1));
}

TEST_CASE("a meter follows a tool whose cost changes") {
  CostMeter meter;
  meter.observe(1, 10, 0.025);
  for (int i = 0; i < 30; ++i) meter.observe(100, 1000, 0.0001);
  CHECK(meter.per_record() < 0.00001);
}

TEST_CASE("batches hold about a slice (8 ms) of tool time") {
  SECTION("nothing measured: one record") {
    BatchLimit limit = batch_limit(CostMeter{});
    CHECK(limit.records == 1);
  }
  SECTION("a slow tool gets one record at a time") {
    BatchLimit limit = batch_limit(measured(1, 50, 0.025));
    CHECK(limit.records == 1);
    CHECK(limit.bytes < 50);  // still at least the one record: the session never cuts less
  }
  SECTION("a 0.3 ms tool gets a few records") {
    BatchLimit limit = batch_limit(measured(100, 5000, 0.030));
    CHECK(limit.records == 26);  // 8 ms / 0.3 ms
  }
  SECTION("a fast tool is bounded by bytes and records") {
    BatchLimit limit = batch_limit(measured(100000, 5000000, 0.001));
    CHECK(limit.bytes == kMaxBatchBytes);
    CHECK(limit.records == kMaxBatchRecords);
  }
}

TEST_CASE("answers of a fast tool are read after a pause while more are due") {
  CostMeter gawk = measured(100, 5000, 0.030);  // 0.3 ms a record
  CHECK(answer_pause(26, gawk) == kMaxAnswerPause);
  CHECK(answer_pause(3, gawk) == Approx(0.0006));
  SECTION("the last answer of a batch is read as it comes") { CHECK(answer_pause(1, gawk) == 0); }
  SECTION("nothing measured yet") { CHECK(answer_pause(26, CostMeter{}) == 0); }
  SECTION("too little due to be worth a timer") {
    CostMeter fast = measured(100000, 5000000, 0.001);  // 10 ns a record
    CHECK(answer_pause(1000, fast) == 0);
  }
  SECTION("the longest pause is half a slice: the batch behind keeps the tool busy") {
    CHECK(kMaxAnswerPause * 2 <= kSliceSeconds);
  }
}

TEST_CASE("an instance holds one batch until it answered, then two") {
  InstanceSchedule s(100.0);
  CHECK(s.wants_work(0, 0, 0));
  CHECK_FALSE(s.wants_work(1, 10, 0));
  s.on_taken(1);
  CHECK(s.on_batch_done(1, 10, 100.0, 100.4) < 0);  // the first answer measures the start-up
  CHECK(s.answered());
  CHECK(s.startup() == Approx(0.4));
  CHECK(s.startup_exact());
  CHECK_FALSE(s.costs().known());
  CHECK(s.wants_work(1, 10, 0));
  CHECK_FALSE(s.wants_work(2, 20, 0));
  CHECK_FALSE(s.wants_work(1, kMaxBytesInFlight, 0));
}

TEST_CASE("a first batch sent long after the spawn only bounds the start-up") {
  InstanceSchedule s(0.0);
  s.on_batch_done(1, 10, 30.0, 30.01);
  CHECK(s.startup() == Approx(30.01));
  CHECK_FALSE(s.startup_exact());
}

TEST_CASE("service time starts when the tool could start on the batch") {
  InstanceSchedule s(0.0);
  s.on_batch_done(1, 10, 0.0, 1.0);  // start-up
  // Sent at 1.0 together with the next; the tool works on it from 1.0.
  CHECK(s.on_batch_done(1, 10, 1.0, 1.02) == Approx(0.02));
  // Sent at 1.01 while the previous was still in work: counted from 1.02.
  CHECK(s.on_batch_done(1, 10, 1.01, 1.04) == Approx(0.02));
  // Sent to an idle instance later: counted from its sending.
  CHECK(s.on_batch_done(1, 10, 5.0, 5.02) == Approx(0.02));
  CHECK(s.costs().per_record() == Approx(0.02));
}

TEST_CASE("an instance uses the pool's costs until it measured its own") {
  InstanceSchedule s(0.0);
  CostMeter pool = measured(100, 5000, 0.030);
  CHECK(s.next_batch(pool, 0).records == 26);
  CHECK(s.next_batch(CostMeter{}, 0).records == 1);
}

TEST_CASE("retiring and spare instances take no work") {
  InstanceSchedule spare(0.0, Role::kSpare);
  CHECK_FALSE(spare.wants_work(0, 0, 0));
  spare.set_role(Role::kActive);
  CHECK(spare.wants_work(0, 0, 0));
  spare.set_role(Role::kRetiring);
  CHECK_FALSE(spare.wants_work(0, 0, 0));
}

TEST_CASE("a record quota (--max-records) caps what an instance takes") {
  InstanceSchedule s(0.0);
  CostMeter fast = measured(100000, 5000000, 0.001);
  CHECK(s.next_batch(fast, 100).records == 100);
  s.on_taken(60);
  CHECK(s.next_batch(fast, 100).records == 40);
  CHECK(s.wants_work(0, 0, 100));
  s.on_taken(40);
  CHECK(s.quota_used(100));
  CHECK_FALSE(s.wants_work(0, 0, 100));
  CHECK_FALSE(s.quota_used(0));  // no limit
}

TEST_CASE("a spare starts when the records left take less than a start-up") {
  InstanceSchedule s(0.0);
  CostMeter slow = measured(1, 10, 0.020);  // 20 ms a record
  CHECK_FALSE(s.needs_spare(0, slow, 0.3));
  CHECK(s.needs_spare(100, CostMeter{}, 0.3));  // nothing known: start early
  CHECK(s.needs_spare(100, slow, -1));
  CHECK_FALSE(s.needs_spare(100, slow, 0.3));  // 2 s of work left
  s.on_taken(80);
  CHECK(s.needs_spare(100, slow, 0.3));  // 0.4 s left
}

TEST_CASE("the pool grows when waiting work outlasts a start-up") {
  CostMeter costs = measured(1, 10, 0.020);
  PoolLoad load;
  load.active = 1;
  load.max = 4;
  load.startup = 0.3;
  SECTION("200 records of 20 ms waiting: grow") {
    load.waiting_records = 200;
    CHECK(should_grow(load, costs));
    load.active = 4;
    CHECK_FALSE(should_grow(load, costs));  // at MAX
  }
  SECTION("one record waiting: no") {
    load.waiting_records = 1;
    CHECK_FALSE(should_grow(load, costs));
  }
  SECTION("a 10 s tool is not started for 100 ms of backlog") {
    load.waiting_records = 5;
    load.startup = 10;
    CHECK_FALSE(should_grow(load, costs));
  }
  SECTION("the backlog is shared by the instances there are") {
    load.waiting_records = 40;  // 0.8 s
    load.active = 2;
    CHECK(should_grow(load, costs));
    load.active = 3;
    CHECK_FALSE(should_grow(load, costs));
  }
  SECTION("nothing measured yet: no") {
    load.waiting_records = 1000;
    CHECK_FALSE(should_grow(load, CostMeter{}));
    load.startup = -1;
    CHECK_FALSE(should_grow(load, costs));
  }
  SECTION("no instance at all: any work") {
    load.active = 0;
    load.waiting_records = 1;
    CHECK(should_grow(load, CostMeter{}));
  }
}

TEST_CASE("idle instances retire after a while that grows with the start-up") {
  CHECK(retire_after(0.01) == Approx(kRetireFloorSeconds));
  CHECK(retire_after(10) == Approx(100));
  InstanceSchedule s(0.0);
  CHECK(s.idle_for(3.0) == Approx(3.0));  // idle since its start
  s.on_taken(1);
  CHECK(s.idle_for(4.0) == 0);
  s.on_idle(4.0);
  CHECK(s.idle_for(10.0) == Approx(6.0));
}

// Spreading inputs: the tool's service time and CPU time, the daemon's CPU
// time, each as `seconds` for the same records and bytes.
SpreadCosts spread(size_t records, size_t bytes, double wall, double tool_cpu, double daemon) {
  SpreadCosts costs;
  if (wall >= 0) costs.tool_wall.observe(records, bytes, wall);
  if (tool_cpu >= 0) costs.tool_cpu.observe(records, bytes, tool_cpu);
  if (daemon >= 0) costs.daemon.observe(records, bytes, daemon);
  return costs;
}

TEST_CASE("a stream is spread over instances only when the tool is slow against the daemon") {
  SECTION("nothing measured: spread, as a new tool's cost is not known") {
    CHECK(spreading_helps(SpreadCosts{}));
    CHECK(spreading_helps(spread(1000, 50000, 0.001, 0.001, -1)));
    CHECK(spreading_helps(spread(1000, 50000, -1, -1, 0.001)));
  }
  SECTION("cat: its answers wait for the busy daemon, but it uses little CPU") {
    SpreadCosts cat = spread(5000, 256 * 1024, 0.0016, 0.0002, 0.0004);
    CHECK_FALSE(spreading_helps(cat));
    CHECK_FALSE(secondary_takes_work(spreading_helps(cat), false));
  }
  SECTION("a CPU-bound filter: 0.3 ms a record against 50 us of the daemon") {
    CHECK(spreading_helps(spread(3, 3000, 0.0012, 0.0009, 0.00015)));
  }
  SECTION("a tool that waits: 25 ms a record, hardly any CPU") {
    CHECK(spreading_helps(spread(1, 40, 0.025, 0.00001, 0.00005)));
  }
  SECTION("a tool whose CPU time is not known (it works in a child) spreads when it is slow enough") {
    CHECK_FALSE(spreading_helps(spread(10, 1000, 0.001 * kSpreadWaitFactor * 0.9, -1, 0.001)));
    CHECK(spreading_helps(spread(10, 1000, 0.001 * kSpreadWaitFactor * 1.1, -1, 0.001)));
  }
  SECTION("at the bound: the tool's CPU time must be kSpreadCpuFactor times the daemon's") {
    CHECK_FALSE(spreading_helps(spread(10, 1000, 0.004, 0.001 * kSpreadCpuFactor * 0.9, 0.001)));
    CHECK(spreading_helps(spread(10, 1000, 0.004, 0.001 * kSpreadCpuFactor * 1.1, 0.001)));
  }
  SECTION("a talkative tool's instances serve one caller each: others take work anyway") {
    CHECK(secondary_takes_work(false, true));
    CHECK(secondary_takes_work(true, false));
  }
}

TEST_CASE("the pool does not grow while more instances would not help") {
  PoolLoad load;
  load.active = 1;
  load.max = 4;
  load.startup = 0.001;
  load.waiting_records = 100000;
  load.waiting_bytes = 5000000;
  CostMeter costs = measured(5000, 256 * 1024, 0.0006);
  CHECK(should_grow(load, costs));
  load.spreading_helps = false;
  CHECK_FALSE(should_grow(load, costs));
  load.active = 0;  // but the first instance starts whatever is measured
  CHECK(should_grow(load, costs));
}

TEST_CASE("a stream that is not spread gets long slices") {
  InstanceSchedule s(0.0);
  CostMeter slow = measured(1000, 50000, 0.01);  // 5 KB a millisecond
  CHECK(s.next_batch(slow, 0).bytes == 40000);
  CHECK(s.next_batch(slow, 0, false).bytes == 100000);
  CostMeter cat = measured(1000, 50000, 0.001);  // 50 KB a millisecond, as cat measures through the daemon
  CHECK(s.next_batch(cat, 0, false).bytes == kMaxBatchBytes);
  CHECK(s.next_batch(cat, 100, false).records == 100);  // --max-records still caps it
  // A slow tool wrongly left unspread still gets no more than a long slice.
  CostMeter gawk = measured(3, 135, 0.0012);
  CHECK(s.next_batch(gawk, 0, false).records == 50);
}

TEST_CASE("a costly check runs no more than its share of the time") {
  CheckPace pace(1.0, 0.05);
  CHECK(pace.due(0));
  pace.ran(0, 0.002);  // a cheap check: once a second
  CHECK_FALSE(pace.due(0.9));
  CHECK(pace.due(1.0));
  pace.ran(1.0, 1.4);  // a walk of 0.4 s: 5 % means every 8 s
  CHECK_FALSE(pace.due(8.9));
  CHECK(pace.due(9.0));
  pace.ran(9.0, 9.01);  // cheap again: back to once a second
  CHECK(pace.due(10.0));
}
