"""What we ask the AI for, as Pydantic models (Structured Outputs), and what the rest of the pipeline uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

EXTRACTION_PROMPT_VERSION = "extract-v2"
GRADING_PROMPT_VERSION = "grade-v2-points"
# An answer read with a legibility below this is hard to read: it goes to a person (grading.pipeline.hard_to_read).
LOW_LEGIBILITY = 0.4


class ExtractedQuestion(BaseModel):
    number: int = Field(ge=1, le=200, description="The question number printed on the sheet")
    question: str = Field(description="The printed question text")
    answer: str = Field(description="The handwritten answer, transcribed exactly; [illegible] for unreadable words")
    max_score: int | None = Field(default=None, ge=1, le=50, description="Marks shown for the question, if any")
    legibility: float = Field(ge=0, le=1, description="How confidently the answer could be read, 0 to 1")


class PageExtraction(BaseModel):
    student_name: str | None = Field(description="The learner's name as written on the page, if any")
    standard: int | None = Field(description="The Care Certificate standard number printed on the page, if any")
    questions: list[ExtractedQuestion]


class PointJudged(BaseModel):
    point: int = Field(description="The marking point's number, as given")
    met: bool = Field(description="True only if the answer clearly makes this point")
    quote: str = Field(description="The learner's own words that make the point, copied exactly; empty if not met")


class QuestionGrading(BaseModel):
    number: int
    points: list[PointJudged] = Field(description="One decision for every marking point of the question")
    feedback: str = Field(description="One or two sentences for the assessor: what was covered and what was missed")
    confidence: float = Field(ge=0, le=1)
    instruction_attempt: bool = Field(description="True if the answer contains text addressed to the marker")


class ScriptGrading(BaseModel):
    results: list[QuestionGrading]


@dataclass
class Usage:
    provider: str
    model: str
    purpose: str
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    succeeded: bool = True
    error: str = ""


@dataclass(frozen=True)
class PointToJudge:
    order: int
    statement: str
    marks: float


@dataclass
class AnswerToGrade:
    number: int
    question: str
    answer: str
    max_score: float
    points: list[PointToJudge] = field(default_factory=list)
    model_answer: str = ""


@dataclass(frozen=True)
class PointDecided:
    order: int
    met: bool
    quote: str


@dataclass
class Grade:
    number: int
    score: float | None  # None: could not be graded — a person must
    max_score: float
    feedback: str
    confidence: float
    needs_review: bool = False
    review_reason: str = ""
    decisions: list[PointDecided] = field(default_factory=list)


@dataclass
class PageResult:
    extraction: PageExtraction | None
    source: str  # vision, ocr or pdf_text
    usage: list[Usage] = field(default_factory=list)
    error: str = ""


class InvalidReply(Exception):
    """The provider answered, but not with something we can use (bad JSON, missing questions, out-of-range scores)."""


# --- Reading a blank quiz or a mark-scheme document into a draft scheme (markschemes.importing) ---------------------

SCHEME_IMPORT_PROMPT_VERSION = "scheme-import-v1"


class DocumentPoint(BaseModel):
    statement: str = Field(description="What an answer must say to earn the marks, as printed")
    marks: float | None = Field(description="The marks printed for this point, if any")


class DocumentQuestion(BaseModel):
    number: int = Field(ge=1, le=999, description="The question number as printed")
    text: str = Field(description="The question text as printed")
    max_marks: float | None = Field(description="The marks printed for the question, if any")
    points: list[DocumentPoint] = Field(description="Marking points printed for the question; empty on a blank quiz")
    model_answer: str | None = Field(description="A model answer printed for the question, if any")


class SchemeDocument(BaseModel):
    title: str | None = Field(description="The quiz's or mark scheme's title as printed, if any")
    questions: list[DocumentQuestion]
