"""Process evaluation of mentoring in the RETAKE trial: raw mentoring records in,
Table 4, figures and a rendered report out."""

__version__ = "0.1.0"
