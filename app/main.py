"""HTTP routes of the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

from fastapi import FastAPI, Response, status
from pydantic import BaseModel, Field

from app.build_info import read_build_info
from app.gpu import query_gpus
from app.similarity import cosine_similarity

MAX_TEXT_CHARS = 10_000

state = {"ready": False}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # A real model would load here; readiness turns true only once startup has finished.
    state["ready"] = True
    yield
    state["ready"] = False


app = FastAPI(title="agent-dk", lifespan=lifespan)


class SimilarityRequest(BaseModel):
    left: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    right: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class SimilarityResponse(BaseModel):
    similarity: float


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/ready")
def ready(response: Response) -> dict[str, bool]:
    if not state["ready"]:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"ready": state["ready"]}


@app.get("/version")
def version() -> dict[str, str]:
    return read_build_info().as_dict()


@app.get("/gpu")
def gpu() -> dict[str, object]:
    inventory = query_gpus()
    return {"gpus": [asdict(g) for g in inventory.gpus], "reason": inventory.reason}


@app.post("/v1/similarity")
def similarity(request: SimilarityRequest) -> SimilarityResponse:
    return SimilarityResponse(similarity=cosine_similarity(request.left, request.right))
