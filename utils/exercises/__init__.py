"""The exercise checkers, one module per week, named for the notebooks they serve: `week0` (notebook 00 and the
notebook template's example), `week1` (01-04), `week2` (05-07), `week3` (08-11), `week4` (12-14), `week5` (15-17).

A checker takes the learner's answer, computes the expected one itself with the course's own code (so the notebook
never shows it), prints right or wrong and returns it. Each is registered with `utils.course.grading.exercise`
together with answers it must reject and one it must accept, and tests/test_course_exercises.py calls every
registered checker with them: the registry proves that every checker can fail.

This package is the top floor of `utils`: it may import any other subpackage, and nothing else in `utils` imports it.
"""
