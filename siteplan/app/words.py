"""The app's common words in Chinese and English: key -> (中文, English).

Each page keeps its own words beside its code (``WORDS`` in its module) and
hands them to :func:`siteplan.app.server.render`; these are the frame's.
"""

from __future__ import annotations

__all__ = ["WORDS"]

WORDS: dict[str, tuple[str, str]] = {
    "app_title": ("siteplan 保障性住房用地布局", "siteplan affordable-housing land plan"),
    "step_data": ("数据", "Data"),
    "step_targets": ("指标", "Targets"),
    "step_rules": ("规则", "Rules"),
    "step_run": ("运行", "Run"),
    "step_results": ("成果", "Results"),
    "scenario_file": ("方案文件", "Scenario file"),
    "no_scenario": ("尚无方案文件：请先在“数据”页选择资料文件夹。", "No scenario file yet: choose the folder of your files on the Data page."),
    "scenario_problem": ("方案文件目前无法运行：", "The scenario cannot run as it stands:"),
    "save": ("保存", "Save"),
    "saved": ("已保存到方案文件。", "Saved to the scenario file."),
    "language": ("English", "中文"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "next": ("下一步", "Next"),
    "quit": ("退出", "Quit"),
    "quit_title": ("siteplan 已退出", "siteplan has stopped"),
    "quit_text": ("网页服务已关闭，可以关掉这个页面。正在计算的方案会继续算完；再次启动 siteplan 后，在“运行”页可以看到全部运行。",
                  "The app has stopped; you may close this page. A run still solving goes on to the end; start siteplan "
                  "again to see every run on the Run page."),
}
