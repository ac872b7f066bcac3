"""`python manage.py run_engine`: supervise one shard's engine worker (see engine.supervisor)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from engine.journal import SyncPolicy
from engine.models import Market
from engine.streams import DEFAULT_SHARD
from engine.supervisor import Supervisor, SupervisorConfig
from engine.telemetry import Recorder
from engine.worker import WorkerConfig
from exchange_console.paths import VAR_DIR


class Command(BaseCommand):
    help = "Run the matching engine of one shard under a supervisor: restarts, lease, mode changes, telemetry."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--shard", default=getattr(settings, "ENGINE_SHARD", DEFAULT_SHARD))
        parser.add_argument("--journal-dir", help="default: VAR_DIR/engine/<shard>")
        parser.add_argument("--policy", choices=[policy.value for policy in SyncPolicy], default=SyncPolicy.FSYNC)
        parser.add_argument(
            "--snapshot-every", type=int, default=WorkerConfig.snapshot_every, help="commands between snapshots"
        )
        parser.add_argument(
            "--snapshot-interval", type=float, default=WorkerConfig.snapshot_interval, help="seconds between snapshots"
        )
        parser.add_argument("--heartbeat-timeout", type=float, default=0.5, help="silence (s) that means a hang")
        parser.add_argument("--crash-loop-failures", type=int, default=5)
        parser.add_argument("--crash-loop-window", type=float, default=60.0, help="seconds")
        parser.add_argument("--backoff-initial", type=float, default=0.1, help="first restart delay (s)")
        parser.add_argument("--backoff-max", type=float, default=10.0)
        parser.add_argument("--lease-ttl", type=float, default=3.0, help="seconds")

    def handle(self, *args, **options) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        shard = options["shard"]
        journal_dir = options["journal_dir"] or str(VAR_DIR / "engine" / shard / "journal")
        markets = [market.as_worker_config() for market in Market.objects.filter(shard=shard)]
        if not markets and not any(VAR_DIR.glob(f"engine/{shard}/journal/snapshot-*")) and not options["journal_dir"]:
            raise CommandError(f"no markets for shard {shard!r}: run `manage.py bootstrap` or add them in the admin")
        worker = WorkerConfig(
            shard=shard,
            journal_dir=journal_dir,
            redis_url=settings.REDIS_URL,
            markets=markets,
            policy=options["policy"],
            snapshot_every=options["snapshot_every"],
            snapshot_interval=options["snapshot_interval"],
        )
        config = SupervisorConfig(
            worker=worker,
            heartbeat_timeout=options["heartbeat_timeout"],
            crash_loop_failures=options["crash_loop_failures"],
            crash_loop_window=options["crash_loop_window"],
            backoff_initial=options["backoff_initial"],
            backoff_max=options["backoff_max"],
            lease_ttl=options["lease_ttl"],
        )
        supervisor = Supervisor(config, recorder=None)
        supervisor.recorder = Recorder(shard, supervisor.redis)
        self.stdout.write(f"Engine supervisor for shard {shard!r}: journal {journal_dir}", ending="\n")
        self.stdout.flush()
        supervisor.run()
