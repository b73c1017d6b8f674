"""The short form of the fault test (bench/soak is the long one): a mixed
load of a few hundred jobs -- POST /jobs batches and single jobs, evaluate
and run, synchronous /evaluate_code and /run -- while executors are SIGKILLed
and restarted at random, one API worker is killed and redis-server is
restarted once. Then every job must have completed exactly once, with the
expected result, and nothing may be left in the queue or a processing list.
See faultload.py for the accounting."""

import json

import faultload

JOBS = 400


def test_mixed_load_survives_faults(chaos_stack):
    st = chaos_stack
    ledger = faultload.Ledger()
    sessions = faultload.make_sessions(st.url, 6)
    plan = faultload.make_plan(JOBS, batch_size=20)
    load = faultload.Load(st.url, ledger, sessions, plan, clients=6, collectors=4,
                          deadline_s=240, collect_grace_s=45)
    sampler = faultload.Sampler(st, ledger, slots=2).start()
    faults = faultload.Faults(st, ledger, load, kill_every=(0.3, 1.2),
                              restart_after=(0.0, 1.0), api_at=0.2, redis_at=0.45,
                              redis_down_s=2.0, log=print)
    faults.start()
    load.start()
    load.wait()
    faults.join()
    sampler.join()
    assert faults.error is None, faults.error

    report, problems = faultload.verify(st, ledger, drain_timeout=30)
    report["api_worker_respawn_s"] = faults.api_respawn_s
    report["max_jobs_in_one_processing_list"] = sampler.max_in_proc
    print(json.dumps(report, indent=1, sort_keys=True))
    for p in problems[:40]:
        print("PROBLEM:", p)

    assert ledger.faults["executor_kill"] >= 3, report["faults"]
    assert ledger.faults["api_worker_kill"] == 1, report["faults"]
    assert faults.api_respawn_s is not None, "the killed API worker was not respawned"
    assert ledger.faults["redis_restart"] == 1, report["faults"]
    assert ledger.redis_down, "no request was made while Redis was down"
    assert ledger.recovery_s, "the service did not recover after the Redis restart"
    assert report["jobs_acknowledged"] >= load.total_jobs
    assert not problems, "\n".join(problems[:40])
