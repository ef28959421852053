"""What every load-benchmark customer does (``locustfile`` and ``load_bench``'s plain client): the
answers they give, and how they recognise the survey's form (the link's token is its only credential)."""

import re

SURVEY_FORM = re.compile(r'<form method="post" class="survey"')

SURVEY = {"attitude": "5", "speed": "4", "professionalism": "5", "problem_solving": "4", "helpfulness": "5",
          "overall": "4", "nps": "9", "improve": "周末也能上门就更好了", "comments": "", "contact_name": "",
          "contact_details": ""}  # fmt: skip
