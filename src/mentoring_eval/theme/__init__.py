"""The look of every page and PDF: report.scss (Quarto HTML), print.typ (Typst PDFs), pages.css (nbconvert pages, site index)."""
