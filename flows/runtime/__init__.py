"""The process around a run: Prefect's API and settings, scheduling, progress, signals, memory.

    localapi      a temporary local Prefect API for one ``bluecarbon run``
    prefect       quiet settings, one-line task failures, logs flushed before the API stops
    serve         ``bluecarbon serve``: a local Prefect server and both schedules
    progress      events from the flow to the display (no secrets: ids, counts, stages)
    display       the terminal's progress bar and the results table after a run
    termination   SIGTERM / Ctrl-C never swallowed, never recorded as a site's failure
    memory        pages of written data given back to the system
    scheduler     whether dask computes in this process (threads) or elsewhere (a cluster)

Import the module you need: nothing is imported here, so the site computation can use
``memory`` without loading Prefect or rich.
"""
