import time

from django.db import connection


class ServerTiming:
    """``Server-Timing: app;dur=<ms>`` and ``X-Queries: <n>`` on every response (benchmark only)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = [0]

        def counter(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
            if hasattr(response, "render") and callable(response.render) and not response.is_rendered:
                response.render()
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
        response["X-Queries"] = str(count[0])
        return response
