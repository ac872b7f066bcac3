"""`python manage.py engine_drill crash|hang|redis`: a recovery drill under load (see engine.drill)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from engine.drill import DrillError, DrillPlan, command_restarter, embedded_redis_restarter, run_drill
from engine.simulator import markets_of
from engine.streams import DEFAULT_SHARD
from exchange_console.embedded_redis import EmbeddedRedis
from exchange_console.paths import VAR_DIR


class Command(BaseCommand):
    help = "Inject a fault into the running engine under simulated load; measure and store RTO and RPO."

    def add_arguments(self, parser) -> None:
        parser.add_argument("fault", choices=["crash", "hang", "redis"])
        parser.add_argument("--shard", default=getattr(settings, "ENGINE_SHARD", DEFAULT_SHARD))
        parser.add_argument("--rate", type=float, default=2_000.0, help="simulated orders per second")
        parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load before the fault")
        parser.add_argument("--after", type=float, default=2.0, help="seconds of load after recovery")
        parser.add_argument("--redis-restart-command", help="shell command restarting an external Redis")
        parser.add_argument(
            "--embedded-redis-dir", type=Path, default=VAR_DIR / "redis", help="where the embedded Redis lives"
        )

    def handle(self, *args, **options) -> None:
        markets = markets_of(options["shard"])
        if not markets:
            raise CommandError(f"no markets in shard {options['shard']!r}")
        restart = None
        if options["redis_restart_command"]:
            restart = command_restarter(options["redis_restart_command"])
        elif EmbeddedRedis(options["embedded_redis_dir"]).url == settings.REDIS_URL:
            restart = embedded_redis_restarter(options["embedded_redis_dir"])
        plan = DrillPlan(
            fault=options["fault"],
            shard=options["shard"],
            redis_url=settings.REDIS_URL,
            markets=markets,
            rate=options["rate"],
            warmup=options["warmup"],
            after=options["after"],
            restart_redis=restart,
        )
        try:
            result = run_drill(plan, say=self._say)
        except DrillError as error:
            raise CommandError(str(error)) from error
        rto = "none (the engine never answered)" if result.rto_seconds is None else f"{result.rto_seconds:.3f} s"
        verdict = self.style.SUCCESS("PASSED") if result.passed else self.style.ERROR("FAILED")
        self._say(
            f"drill {result.fault}: RTO {rto}, RPO {result.rpo_orders} of {result.acknowledged:,} acknowledged "
            f"orders, {result.detail['doubled']} applied twice: {verdict}"
        )

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
