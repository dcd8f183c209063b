"""What ``fit``/``evaluate``/``predict`` print for verbose=1 (a progress bar) and 2 (a line).

Keras' layout: ``Epoch 3/10`` then ``32/32 [=====] - 0s 2ms/step - loss: 0.4 - acc: 0.8``
(verbose=1, redrawn in place on a terminal) or ``32/32 - 0s - 2ms/step - loss: ...``
(verbose=2, once per epoch).
"""

import sys
import time

BAR_WIDTH = 30
REDRAW_SECONDS = 0.05  # do not redraw the bar more often than this


def format_value(value):
    """Keras' number format: 4 decimals, or scientific notation for tiny magnitudes."""
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"


def format_logs(logs):
    return "".join(f" - {key}: {format_value(value)}" for key, value in logs.items())


def format_time(seconds, steps):
    per_step = seconds / max(steps, 1)
    if per_step >= 1:
        rate = f"{per_step:.0f}s/step"
    elif per_step >= 1e-3:
        rate = f"{per_step * 1e3:.0f}ms/step"
    else:
        rate = f"{per_step * 1e6:.0f}us/step"
    return f"{seconds:.0f}s", rate


class Progress:
    """Prints progress for one pass (an epoch, an evaluation) over ``steps`` batches."""

    def __init__(self, steps, verbose, stream=None):
        self.steps = steps
        self.verbose = verbose
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.dynamic = bool(isatty and isatty())
        self.start = time.perf_counter()
        self.last_draw = 0.0

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _bar_line(self, step, logs, elapsed):
        filled = BAR_WIDTH * step // max(self.steps, 1)
        if step < self.steps:
            bar = "=" * max(filled - 1, 0) + ">" + "." * (BAR_WIDTH - max(filled, 1))
        else:
            bar = "=" * BAR_WIDTH
        width = len(str(self.steps))
        total, rate = format_time(elapsed, step)
        return f"{step:>{width}}/{self.steps} [{bar}] - {total} {rate}{format_logs(logs)}"

    def update(self, step, logs):
        """Redraw the bar after ``step`` batches (verbose=1 on a terminal only)."""
        if self.verbose != 1 or not self.dynamic:
            return
        now = time.perf_counter()
        if now - self.last_draw < REDRAW_SECONDS:
            return
        self.last_draw = now
        self._write("\r" + self._bar_line(step, logs, now - self.start))

    def abort(self):
        """End a bar left half drawn (training stopped early)."""
        if self.verbose == 1 and self.dynamic and self.last_draw:
            self._write("\n")

    def finish(self, logs):
        """Print the final line of the pass; return the seconds it took."""
        elapsed = time.perf_counter() - self.start
        if self.verbose == 1:
            self._write(("\r" if self.dynamic else "") + self._bar_line(self.steps, logs, elapsed)
                        + "\n")
        elif self.verbose == 2:
            total, rate = format_time(elapsed, self.steps)
            self._write(f"{self.steps}/{self.steps} - {total} - {rate}{format_logs(logs)}\n")
        return elapsed


def epoch_header(epoch, epochs, verbose, stream=None):
    if verbose:
        stream = sys.stdout if stream is None else stream
        stream.write(f"Epoch {epoch + 1}/{epochs}\n")
        stream.flush()
