"""Accuracy assessment of the change maps: defensible hectares (issue 18).

    bluecarbon accuracy design   -> design.make_design       sample drawn, files written (folder)
    bluecarbon accuracy assess   -> assess.assess_labels     field labels (labels)
                                    assess.assess_reference  labels from reference maps (reference)
    bluecarbon accuracy compare  -> compare.compare_reference  map-to-map agreement

What a command reads (the site, its month's change map) is :mod:`flows.accuracy.inputs`;
the statistics are pure and live in :mod:`indices.sampling`, :mod:`indices.accuracy` and
:mod:`indices.agreement`. Bad input raises :data:`ACCURACY_ERRORS` with a one-line message.
"""

from aoi import SitesError
from flows.accuracy.folder import AccuracyError
from flows.results.files import StoreError
from indices.accuracy import LabelError

ACCURACY_ERRORS = (AccuracyError, LabelError, SitesError, StoreError)
"""What bad input for an accuracy command raises (each with a one-line message)."""

__all__ = ["ACCURACY_ERRORS", "AccuracyError"]
