"""The default questionnaire (seed 002's survey, with the overall score and NPS of
seed 001) and the reminder job on the beat schedule."""

from django.db import migrations

SATISFIED_ZH = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
SATISFIED_EN = ["Very satisfied", "Satisfied", "Neutral", "Dissatisfied", "Very dissatisfied"]

QUESTIONS = [
    ("attitude", "scale", "", "您对我们的服务态度是否满意?", "How satisfied are you with our service attitude?",
     SATISFIED_ZH, SATISFIED_EN, True),
    ("speed", "scale", "", "您对我们的服务速度是否满意?", "How satisfied are you with the speed of our service?",
     SATISFIED_ZH, SATISFIED_EN, True),
    ("professionalism", "scale", "", "您认为我们的服务水平是否足够专业?", "How professional was our service?",
     ["非常专业", "专业", "一般", "不专业", "非常不专业"],
     ["Very professional", "Professional", "Neutral", "Unprofessional", "Very unprofessional"], True),
    ("problem_solving", "scale", "", "您对我们的解决问题能力是否满意?",
     "How satisfied are you with our ability to solve your problem?", SATISFIED_ZH, SATISFIED_EN, True),
    ("helpfulness", "scale", "", "您认为我们的服务是否提供了您所需的帮助?", "Did our service give you the help you needed?",
     ["非常有帮助", "有帮助", "一般", "不太有帮助", "非常没有帮助"],
     ["Very helpful", "Helpful", "Neutral", "Not very helpful", "Not helpful at all"], True),
    ("overall", "scale", "overall", "总体而言,您对我们的服务是否满意?", "Overall, how satisfied are you with our service?",
     SATISFIED_ZH, SATISFIED_EN, True),
    ("nps", "nps", "nps", "您有多大可能向朋友或同事推荐我们?(0 = 完全不可能,10 = 非常可能)",
     "How likely are you to recommend us to a friend or colleague? (0 = not at all, 10 = extremely likely)",
     [], [], False),
    ("improve", "text", "", "您认为我们应该改进哪些方面的服务?", "What should we improve in our service?", [], [], False),
    ("comments", "text", "", "您对我们的服务有任何其他意见或建议吗?", "Any other comments or suggestions about our service?",
     [], [], False),
]  # fmt: skip

TEMPLATE = {
    "name": "优质客户服务满意度调查表",
    "version": 1,
    "is_active": True,
    "intro_zh": "为提供更优质的客户服务,我们希望了解您对我们服务的满意程度。我们将根据您的反馈,不断改进和优化我们的服务。",
    "intro_en": "To serve you better, we would like to know how satisfied you are with our service. "
    "We will use your feedback to keep improving.",
    "confidentiality_zh": "本次调查的所有回答将被保密,并用于改进我们的服务质量,不会以任何方式泄露您的个人信息。"
    "如果您愿意提供个人信息以便我们进一步了解您的反馈,您可以提供您的姓名和联系方式,但这是完全自愿的。",
    "confidentiality_en": "All answers to this survey are kept confidential and used only to improve our service; "
    "your personal information will not be disclosed in any way. If you would like us to follow up on your "
    "feedback, you may leave your name and contact details — this is entirely voluntary.",
    "thanks_zh": "感谢您抽出宝贵的时间参与本次调查,您的反馈对我们非常重要!如果您还有其他意见或问题,请随时与我们联系。",
    "thanks_en": "Thank you for taking the time to answer; your feedback matters a great deal to us. "
    "If you have any other comments or questions, please contact us at any time.",
}

TASK = "surveys.tasks.send_survey_reminders"


def add_defaults(apps, schema_editor):
    SurveyTemplate = apps.get_model("surveys", "SurveyTemplate")
    Question = apps.get_model("surveys", "Question")
    if SurveyTemplate.objects.exists():
        return
    template = SurveyTemplate.objects.create(**TEMPLATE)
    for position, (key, kind, role, zh, en, choices_zh, choices_en, required) in enumerate(QUESTIONS, start=1):
        Question.objects.create(
            template=template, position=position, key=key, kind=kind, role=role, text_zh=zh, text_en=en,
            choices_zh=choices_zh, choices_en=choices_en, required=required,
        )  # fmt: skip
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Send survey reminders", defaults={"task": TASK, "interval": every_15_minutes}
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_defaults, remove_schedule)]
