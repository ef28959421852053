"""What every load-benchmark customer does (``locustfile`` and ``load_bench``'s plain client): the
answers they give, and where they find the form's CSRF token."""

import re

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

SURVEY = {"attitude": "5", "speed": "4", "professionalism": "5", "problem_solving": "4", "helpfulness": "5",
          "overall": "4", "nps": "9", "improve": "周末也能上门就更好了", "comments": "", "contact_name": "",
          "contact_details": ""}  # fmt: skip
