from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the recorder supervisor: one FFmpeg per enabled camera (issue #3)."

    def handle(self, *args, **options):
        import signal
        import time

        stop = False

        def on_term(signum, frame):
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        while not stop:
            time.sleep(1)
